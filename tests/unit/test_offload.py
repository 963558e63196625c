"""offload.settled: results resolved on other threads reach the event loop, errors and all; offload.then chains
the next step on the resolving thread."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from concurrent.futures import Future

import pytest

from agentic_memory.errors import StorageError
from agentic_memory.offload import settled, then


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


def test_then_runs_the_next_step_on_the_thread_that_resolves_the_source():
    source: Future[int] = Future()
    ran_on: list[str] = []

    def step(value: int) -> int:
        ran_on.append(threading.current_thread().name)
        return value * 2

    result = then(source, step)
    resolver = threading.Thread(target=source.set_result, args=(21,), name="model")
    resolver.start()
    resolver.join()
    assert result.result(timeout=5) == 42
    assert ran_on == ["model"]
    assert asyncio.run(settled(then(source, step))) == 42  # a source already done: the step runs now


def test_then_hands_on_errors_from_the_source_and_from_the_step():
    failed: Future[int] = Future()
    failing = then(failed, lambda value: value)
    failed.set_exception(StorageError("database is locked"))
    with pytest.raises(StorageError):
        failing.result(timeout=5)

    def broken(_: int) -> int:
        raise StorageError("disk I/O error")

    source: Future[int] = Future()
    result = then(source, broken)
    source.set_result(1)
    with pytest.raises(StorageError):
        result.result(timeout=5)


def test_cancelling_then_cancels_a_source_not_yet_running_and_skips_the_step():
    source: Future[int] = Future()
    steps: list[int] = []
    result = then(source, steps.append)
    assert result.cancel()
    assert source.cancelled()  # a batcher skips a cancelled query: no model time for a caller who left
    running: Future[int] = Future()
    assert running.set_running_or_notify_cancel()
    late = then(running, steps.append)
    assert late.cancel()
    running.set_result(1)  # the source was already being computed: its result is dropped, the step skipped
    assert steps == []
    cancelled: Future[int] = Future()
    follower = then(cancelled, steps.append)
    cancelled.cancel()
    assert follower.cancelled()


def test_a_finished_then_leaves_no_reference_cycle():
    """Each /retrieve makes one: a cycle would leave them all to the cyclic collector (PERF_NOTES item 21)."""
    gc.disable()
    try:
        source: Future[int] = Future()
        result = then(source, lambda value: value + 1)
        source.set_result(1)
        assert result.result() == 2
        gone = [weakref.ref(source), weakref.ref(result)]
        del source, result
        assert all(ref() is None for ref in gone)  # freed by reference counting alone
    finally:
        gc.enable()
