"""The port rule in one helper: a call that may block (any port but `JobQueue.accept`) never runs on the
event loop. It runs here, on anyio's thread pool, whose size the HTTP app bounds (`http/app.py`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))
