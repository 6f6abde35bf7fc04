"""The EMR simulator (samples/emr_simulator.py) on its own thread and event loop, for tests that run the daemon
in another process: start it, stop it (the EMR goes down), start it again on the same port."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from samples.emr_simulator import EmrSimulator

T = TypeVar("T")


class RunningEmr:
    def __init__(self, *, port: int = 0, token: str | None = None, load: Path | None = None) -> None:
        self.sim = EmrSimulator(port=port, token=token)
        if load is not None:
            self.sim.load(load.read_text(encoding="utf-8").splitlines())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> RunningEmr:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the simulator's loop (its state is not thread-safe) and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def resources(self, kind: str) -> list[dict[str, Any]]:
        return self.call(lambda: [dict(r) for r in self.sim.resources.get(kind, {}).values()])

    @property
    def base_url(self) -> str:
        return self.sim.base_url

    def __enter__(self) -> RunningEmr:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
