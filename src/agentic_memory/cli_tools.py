"""The installation's commands: backup, restore, doctor, bulk import, export and copy (added to cli.py's app).

In-process on the configured backend; doctor, backup and export also take `--url` (cli_admin.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agentic_memory.admin_client import LocalAdmin, RemoteAdmin
from agentic_memory.cli_admin import JsonOpt, UrlOpt, _table, admin_session, emit, working
from agentic_memory.cli_common import bad_config, built, err, errors, keyed_settings, out
from agentic_memory.config import Settings, load_settings
from agentic_memory.errors import AgenticMemoryError, ConfigurationError


def _bar(text: str, enabled: bool) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    if not enabled:
        return None, None
    progress = Progress(TextColumn(text), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                        transient=True)
    task = progress.add_task(text, total=None)
    return progress, lambda done, total: progress.update(task, completed=done, total=total)


def backup(file: Annotated[Path, typer.Argument(help="The archive to write (.tar.gz); with --url, a name for "
                                                    "the archive the server writes into its data dir's backups/")],
           as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Online backup of the database plus the data dir's files into one archive (the server may run)."""
    from agentic_memory.adapters.sqlite.backup import create_backup

    if url is not None:
        with admin_session(url) as remote:
            assert isinstance(remote, RemoteAdmin)  # noqa: S101 - narrows the type: admin_session(url) is remote
            made = remote.backup(file.name.removesuffix(".tar.gz"))
        emit(made, as_json, lambda d: out.print(f"backup written on the server to {d['path']}"))
        return

    settings = keyed_settings(create=True)
    _refuse_postgres(settings)
    progress, report = _bar("backing up", not as_json)
    with progress or _nothing(), errors():
        manifest = create_backup(settings.data_dir, file, progress=report)
    emit(manifest, as_json,
         lambda d: out.print(f"backup written to {d['path']} ({d['database_bytes']} bytes of database)"))


def restore(file: Annotated[Path, typer.Argument(help="An archive written by `agentic-memory backup`")],
            yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
            as_json: JsonOpt = False) -> None:
    """Replace the database and files with a backup's (stop the server first; keys.json is kept)."""
    from agentic_memory.adapters.sqlite.backup import restore_backup

    settings = keyed_settings(create=True)
    _refuse_postgres(settings)
    if not yes and not typer.confirm(f"Replace everything in {settings.data_dir} with {file}?"):
        raise typer.Exit(1)
    with errors():
        manifest = restore_backup(file, settings.data_dir)
    emit(manifest, as_json, lambda d: out.print(f"restored the backup of {d['created_at']}"))


def doctor(as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Check configuration, keys, database, model, data dir and clock; exit code 1 on any failure."""
    from agentic_memory.doctor import report, run_checks

    if url is not None:
        with admin_session(url) as ops:
            assert isinstance(ops, RemoteAdmin)  # noqa: S101 - narrows the type: a --url session is remote
            doc = ops.doctor()
    else:
        doc = report(run_checks())
    colour = {"ok": "green", "warn": "yellow", "fail": "red"}
    emit(doc, as_json, lambda d: out.print(_table("Doctor", ["check", "status", "detail"], [
        [c["name"], f"[{colour[c['status']]}]{c['status']}[/]", c["detail"]] for c in d["checks"]])))
    if not doc["ok"]:
        raise typer.Exit(1)


def import_(path: Annotated[Path, typer.Argument(help="A .json/.jsonl file or a folder of them")],
            process: Annotated[bool, typer.Option(help="Also process the queue here until it is empty")] = False,
            as_json: JsonOpt = False) -> None:
    """Import past conversations (ElevenLabs post-call payloads) through the durable inbox; resumable."""
    from agentic_memory.services.bulk import import_payloads

    settings = keyed_settings(create=True)
    with errors(), built(settings, with_worker=process) as deps:
        progress, report = _bar("importing", not as_json)
        with progress or _nothing():
            counts = import_payloads(path, queue=deps.queue, clock=deps.clock, progress=report)
        if process and deps.worker is not None:
            with working("processing the queue...", not as_json):
                while deps.worker.run_once():
                    counts["processed"] = counts.get("processed", 0) + 1
    emit(counts, as_json, lambda d: out.print(_table("Import", list(d), [list(d.values())])))


def export(path: Annotated[Path, typer.Argument(help="The JSONL file to write")], as_json: JsonOpt = False,
           url: UrlOpt = None) -> None:
    """Export every memory of every caller (active and retired) as JSONL."""
    from agentic_memory.services.bulk import export_memories

    if url is not None:
        with admin_session(url) as remote:
            assert isinstance(remote, RemoteAdmin)  # noqa: S101 - narrows the type: admin_session(url) is remote
            text = remote.export_all()
        path.write_text(text, encoding="utf-8")
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        counts = {"callers": len({row["caller"] for row in lines}), "memories": len(lines)}
        emit(counts, as_json,
             lambda d: out.print(f"{d['memories']} memories of {d['callers']} callers written to {path}"))
        return
    with admin_session(None) as ops:
        assert isinstance(ops, LocalAdmin)  # noqa: S101 - narrows the type: admin_session(None) is local
        progress, report = _bar("exporting", not as_json)
        with progress or _nothing(), path.open("w", encoding="utf-8") as handle:
            counts = export_memories(ops.ops, handle, actor=ops.actor, progress=report)
    emit(counts, as_json, lambda d: out.print(f"{d['memories']} memories of {d['callers']} callers written to {path}"))


def copy(source: Annotated[str, typer.Option("--from", help="The database to read: sqlite:///path or "
                                                           "postgresql://...")],
         target: Annotated[str, typer.Option("--to", help="The database to write (migrated first)")],
         as_json: JsonOpt = False) -> None:
    """Copy a whole database into another (SQLite <-> PostgreSQL); resumable, counts verified at the end.

    Stop the servers and workers on the source first. Run it again after an interruption: it continues
    and never duplicates a row. Exits 1 when the counts differ at the end.
    """
    from agentic_memory.bootstrap import copy_database

    with bad_config():
        settings = load_settings()
    progress = None if as_json else Progress(TextColumn("{task.description:>13}"), BarColumn(),
                                             MofNCompleteColumn(), TimeRemainingColumn(), console=err)
    tasks: dict[str, Any] = {}

    def report(kind: str, done: int, total: int) -> None:
        if progress is not None:
            if kind not in tasks:
                tasks[kind] = progress.add_task(kind, total=total)
            progress.update(tasks[kind], completed=done, total=total)

    try:
        with progress or _nothing():
            result = copy_database(settings, source, target, progress=report)
    except ConfigurationError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except AgenticMemoryError as exc:
        err.print(f"[red]Stopped:[/red] {exc}. Run the same command again to continue.")
        raise typer.Exit(1) from exc
    rows = [[kind, result.copied[kind], result.already_there[kind], result.source[kind], result.target[kind]]
            for kind in result.source]
    emit({"kinds": {row[0]: dict(zip(("copied", "already_there", "source", "target"), row[1:], strict=True))
                    for row in rows}, "mismatched": result.mismatched}, as_json,
         lambda _: out.print(_table("Copy", ["rows", "copied", "already there", "source", "target"], rows)))
    if result.mismatched:
        err.print(f"[red]Counts differ[/red] for {', '.join(result.mismatched)}: the source changed during the "
                  "copy (stop its servers and workers, then run the copy again) or the target held other rows.")
        raise typer.Exit(1)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _refuse_postgres(settings: Settings) -> None:
    from agentic_memory.bootstrap import NO_BACKUP_ON_POSTGRES, uses_postgres

    if uses_postgres(settings):
        err.print(f"[red]Error:[/red] {NO_BACKUP_ON_POSTGRES}")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("doctor")(doctor)
    app.command("import")(import_)
    app.command("export")(export)
    app.command("copy")(copy)
