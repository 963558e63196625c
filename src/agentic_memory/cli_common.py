"""What the command modules share: the consoles, settings with their keys, Deps for one command, and how a
command that cannot start says so (exit 2: settings that do not hold; exit 3: no database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from agentic_memory.config import Settings, ensure_keys, load_settings
from agentic_memory.errors import AgenticMemoryError, ConfigurationError, StorageError

if TYPE_CHECKING:
    from agentic_memory.bootstrap import Deps

out = Console(soft_wrap=True)
err = Console(stderr=True)


@contextmanager
def exit_on(error: type[Exception], code: int, message: str) -> Iterator[None]:
    """`error` ends the command with exit `code`, `message` (rich markup, `{}` for the error) on stderr."""
    try:
        yield
    except error as exc:
        err.print(message.format(exc))
        raise typer.Exit(code) from exc


def bad_config() -> AbstractContextManager[None]:
    return exit_on(ConfigurationError, 2, "[red]Configuration error:[/red] {}")


def errors() -> AbstractContextManager[None]:
    """Any of ours (a bad request, a failed store...) ends the command with exit 1."""
    return exit_on(AgenticMemoryError, 1, "[red]Error:[/red] {}")


@contextmanager
def cannot_start() -> Iterator[None]:
    with bad_config(), exit_on(StorageError, 3, "[red]Database unavailable:[/red] {}"):
        yield


def keyed_settings(*, create: bool) -> Settings:
    """The settings with the keys of the data dir's keys.json (made on first use when `create`)."""
    with bad_config():
        settings, _ = ensure_keys(load_settings(), create=create)
    return settings


@contextmanager
def built(settings: Settings, *, with_worker: bool) -> Iterator[Deps]:
    """Deps for one command, closed when it ends (errors of the build are the caller's to map)."""
    from agentic_memory.bootstrap import build

    deps = build(settings, with_worker=with_worker)
    try:
        yield deps
    finally:
        deps.close()
