"""offload.settled: results resolved on other threads reach the event loop, errors and all."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from agentic_memory.errors import StorageError
from agentic_memory.offload import settled


def test_a_burst_resolved_on_another_thread_reaches_every_waiter():
    async def main() -> list[object]:
        futures: list[Future[int]] = [Future() for _ in range(50)]
        waiters = [asyncio.ensure_future(settled(f)) for f in futures]
        await asyncio.sleep(0)

        def resolve() -> None:
            for i, future in enumerate(futures):
                if i % 10 == 9:
                    future.set_exception(StorageError("disk full"))
                else:
                    future.set_result(i)

        threading.Thread(target=resolve).start()
        return await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 10)

    results = asyncio.run(main())
    assert [r for i, r in enumerate(results) if i % 10 != 9] == [i for i in range(50) if i % 10 != 9]
    assert all(isinstance(r, StorageError) for i, r in enumerate(results) if i % 10 == 9)


def test_a_done_future_needs_no_wake_up_and_a_cancelled_waiter_cancels_its_source():
    async def main() -> Future[int]:
        done: Future[int] = Future()
        done.set_result(7)
        assert await settled(done) == 7
        pending: Future[int] = Future()
        waiter = asyncio.ensure_future(settled(pending))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return pending

    assert asyncio.run(main()).cancelled()  # a group commit then skips it instead of writing for nobody
