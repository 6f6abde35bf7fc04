"""The HIS and public-health simulators (samples/) on their own thread and event loop, for tests and scenarios that
run the daemon in another process: start them, take them down, bring them back on the same port.

Their state is not thread-safe, so every read and change runs on the simulator's loop (`call`, `run`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any, Generic, Protocol, Self, TypeVar

from samples.his_simulator import HisSimulator, Push
from samples.phs_simulator import PhsSimulator, ServiceRecord

T = TypeVar("T")


class _Simulator(Protocol):
    async def up(self) -> None: ...

    async def down(self) -> None: ...


S = TypeVar("S", bound=_Simulator)


class _Threaded(Generic[S]):
    """A simulator and the event loop it runs on, on a daemon thread."""

    def __init__(self, sim: S) -> None:
        self.sim = sim
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the simulator's loop and return its result."""

        async def run() -> T:
            return fn()

        return self.run(run())

    def up(self) -> None:
        self.run(self.sim.up())

    def down(self) -> None:
        self.run(self.sim.down())

    def start(self) -> Self:
        self._thread.start()
        self.up()
        return self

    def stop(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RunningHis(_Threaded[HisSimulator]):
    def __init__(self, *, port: int = 0) -> None:
        super().__init__(HisSimulator("127.0.0.1", port))

    def pushes(self) -> list[Push]:
        return self.call(self.sim.pushes)

    def stats(self) -> dict[str, int]:
        return self.call(self.sim.stats)

    @property
    def address(self) -> str:
        return f"{self.sim.host}:{self.sim.port}"


class RunningPhs(_Threaded[PhsSimulator]):
    def __init__(self, *, port: int = 0, contracts: bytes | None = None) -> None:
        super().__init__(PhsSimulator("127.0.0.1", port, contracts=contracts))

    def sign(self, record: bytes) -> str:
        return self.call(lambda: self.sim.sign(record))

    def terminate(self, contract_id: str, on: date, reason: str) -> int:
        return self.call(lambda: self.sim.terminate(contract_id, on, reason))

    def post_contracts(self, url: str, token: str) -> int:
        return self.run(self.sim.post_contracts(url, token))

    def records(self) -> list[ServiceRecord]:
        return self.call(self.sim.records)

    def stats(self) -> dict[str, int]:
        return self.call(self.sim.stats)

    @property
    def base_url(self) -> str:
        return self.sim.base_url
