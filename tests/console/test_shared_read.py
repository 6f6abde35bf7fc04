"""The dashboard's costly reads, shared by the requests that want them at the same time."""

from __future__ import annotations

import asyncio

import pytest

from engine.api.shared_read import SharedRead


class Counting:
    """A read that counts its runs and waits until released, as a slow count of the journal would."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()

    async def __call__(self) -> int:
        self.runs += 1
        await self.release.wait()
        return self.runs


def test_sixteen_requests_during_one_read_share_its_answer() -> None:
    async def run() -> tuple[list[int], int]:
        shared, read = SharedRead(), Counting()
        waiting = [asyncio.ensure_future(shared.get("totals", read)) for _ in range(16)]
        await asyncio.sleep(0)  # every request has asked
        read.release.set()
        return list(await asyncio.gather(*waiting)), read.runs

    assert asyncio.run(run()) == ([1] * 16, 1)


def test_a_request_after_the_read_finished_reads_anew() -> None:
    async def run() -> list[int]:
        shared, read = SharedRead(), Counting()
        read.release.set()
        return [await shared.get("totals", read) for _ in range(3)]

    assert asyncio.run(run()) == [1, 2, 3]


def test_a_failed_read_reaches_its_waiters_and_the_next_request_reads_anew() -> None:
    async def run() -> int:
        shared, calls = SharedRead(), []

        async def flaky() -> int:
            calls.append(None)
            if len(calls) == 1:
                raise OSError("the store did not answer")
            return len(calls)

        with pytest.raises(OSError):
            await shared.get("totals", flaky)
        return await shared.get("totals", flaky)

    assert asyncio.run(run()) == 2


def test_reads_of_other_keys_are_not_shared() -> None:
    async def run() -> list[str]:
        shared = SharedRead()

        async def named(key: str) -> str:
            return key

        return list(await asyncio.gather(*(shared.get(k, lambda k=k: named(k)) for k in ("a", "b"))))

    assert asyncio.run(run()) == ["a", "b"]
