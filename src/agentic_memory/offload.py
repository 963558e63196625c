"""The port rule's two helpers for async code.

`run_blocking`: a call that may block (any port method but `JobQueue.accept`) never runs on the event loop;
it runs on anyio's thread pool, whose size the HTTP app bounds (`http/app.py`).

`settled`: awaits a `concurrent.futures.Future` resolved on another thread (`JobQueue.accept`'s result).
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


async def run_blocking(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


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
