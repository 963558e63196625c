"""The port rule's two helpers for async code.

`run_blocking`: a call that may block (any port method but `JobQueue.accept`) never runs on the event loop;
it runs on anyio's thread pool, whose size the HTTP app bounds (`http/app.py`).

`settled`: awaits a `concurrent.futures.Future` resolved on another thread (`JobQueue.accept`'s result).

`then`: the next step of a future's work, run by the thread that resolves it, with no hop through the loop.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


async def run_blocking(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


def then(source: Future[T], step: Callable[[T], R]) -> Future[R]:
    """A future of `step(source's result)`, computed by the thread that resolves `source`, right after it.

    A /retrieve's search runs on the model thread that embedded its query: no second hop through the loop
    and the thread pool, and a search there costs ~0.8-1.0 ms of CPU instead of ~1.25-1.4 ms on a pool thread
    contending for the GIL (bench/PERF_NOTES.md, item 21). An error in `source` or `step` is the result's.
    Cancelling the result cancels `source` if it has not started (a batcher then skips it), and skips `step`.
    """
    target: Future[R] = Future()

    def run(done: Future[T]) -> None:
        if done.cancelled():
            target.cancel()
        elif not target.set_running_or_notify_cancel():
            pass  # the waiter gave up while the source ran
        elif (error := done.exception()) is not None:
            target.set_exception(error)
        else:
            try:
                target.set_result(step(done.result()))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiter, re-raised there
                target.set_exception(exc)

    # Weakly: `source` already holds `target` (through `run`), and a cycle would leave every request's pair
    # to the cyclic collector (full collections of 15-25k objects, 36-60 ms, when this was measured).
    weak = weakref.ref(source)

    def cancel_source(result: Future[R]) -> None:
        if result.cancelled() and (pending := weak()) is not None:
            pending.cancel()

    target.add_done_callback(cancel_source)
    source.add_done_callback(run)
    return target


class _Waker:
    """Hands results resolved on other threads back to one event loop with one wake-up per burst.

    `asyncio.wrap_future` wakes the loop once per future, and every wake-up is a syscall during which the
    resolving thread drops the GIL; a busy loop then keeps the GIL for a whole switch interval before that
    thread gets it back. A group commit resolving a batch of acks one wake-up each would pay that convoy
    once per ack, serially; here it pays it once per batch.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ready: list[tuple[Future[Any], asyncio.Future[Any]]] = []
        self.lock = threading.Lock()

    def watch(self, source: Future[T]) -> asyncio.Future[T]:
        target: asyncio.Future[T] = self.loop.create_future()
        target.add_done_callback(lambda t: source.cancel() if t.cancelled() else None)
        source.add_done_callback(lambda s: self._resolved(s, target))
        return target

    def _resolved(self, source: Future[Any], target: asyncio.Future[Any]) -> None:
        with self.lock:
            first = not self.ready
            self.ready.append((source, target))
        if first:
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self.lock:
            ready, self.ready = self.ready, []
        for source, target in ready:
            if target.done():
                continue
            if source.cancelled():
                target.cancel()
            elif (error := source.exception()) is not None:
                target.set_exception(error)
            else:
                target.set_result(source.result())


_wakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waker] = weakref.WeakKeyDictionary()


async def settled(future: Future[T]) -> T:
    """The future's result (or exception), awaited without blocking the loop."""
    if future.done():
        return future.result()
    loop = asyncio.get_running_loop()
    waker = _wakers.get(loop)
    if waker is None:
        waker = _wakers[loop] = _Waker(loop)
    return await waker.watch(future)
