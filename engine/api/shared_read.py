"""One costly read shared by the requests that want it at the same time (the dashboard's totals and queues).

Sixteen operators with the dashboard open each count a million-message journal on every refresh, and the counts
are the same for all of them. A request that finds the same read already in flight awaits its answer instead of
starting another, so the store does the work once per round whatever the number of clients, and the daemon's
intake, on the same cores, keeps its time. Nothing is kept after: the next request reads anew.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


class SharedRead:
    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
        """The answer of the ``key`` read in flight, or of ``read()`` started now."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(read())
            self._running[key] = running
            running.add_done_callback(lambda _done: self._running.pop(key, None))
        return await asyncio.shield(running)  # a client that goes away does not cancel the others' read
