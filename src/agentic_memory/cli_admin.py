"""The operator's commands: callers, memories, dead letters, retention (added to cli.py's app).

Each command works in-process against the configured backend (the server's settings), or with
`--url` against a running server's admin API (admin key from AGENTIC_MEMORY_ADMIN_KEY or keys.json).
`--json` prints the same document the admin API returns.
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    Progress,
    SpinnerColumn,
    TextColumn,
)
from rich.table import Table

from agentic_memory.admin_client import Admin, LocalAdmin, RemoteAdmin
from agentic_memory.cli_common import bad_config, built, err, errors, exit_on, out
from agentic_memory.config import ensure_keys, load_settings
from agentic_memory.domain.keys import safe_id
from agentic_memory.errors import ConfigurationError, NotFound

Json = dict[str, Any]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (the admin API's document) instead of tables")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="A running server's base URL: use its admin API "
                                                          "(admin key from AGENTIC_MEMORY_ADMIN_KEY or keys.json)")]

JobIdsArg = Annotated[list[int] | None, typer.Argument(help="Job ids")]
EveryOpt = Annotated[bool, typer.Option("--all", help="Every dead letter")]
AgentOpt = Annotated[str | None, typer.Option("--agent", help="The agent, when memories are kept per agent "
                                                               "(AGENTIC_MEMORY_SCOPE=agent_and_caller)")]

callers_app = typer.Typer(help="Find, inspect, correct, export and erase callers.", no_args_is_help=True)
memories_app = typer.Typer(help="Edit or delete one memory (history kept).", no_args_is_help=True)
dead_app = typer.Typer(help="Dead letters: webhooks whose processing failed for good.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention per data kind (AGENTIC_MEMORY_RETENTION_<KIND>_DAYS).",
                            no_args_is_help=True)


@contextmanager
def admin_session(url: str | None) -> Iterator[Admin]:
    """An Admin for this command; errors become a message and exit code 1 (2 for configuration)."""
    with errors(), exit_on(NotFound, 1, "[yellow]Not found:[/yellow] {}"), bad_config():
        settings, _ = ensure_keys(load_settings(), create=url is None)
        if url is None:
            with built(settings, with_worker=False) as deps:
                yield LocalAdmin(deps)
            return
        if not settings.admin_keys:
            raise ConfigurationError("AGENTIC_MEMORY_ADMIN_KEY is not set and keys.json holds none")
        remote = RemoteAdmin(url, settings.admin_keys[0])
        try:
            yield remote
        finally:
            remote.close()


def emit(document: Json, as_json: bool, render: Callable[[Json], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        render(document)


@contextmanager
def working(text: str, enabled: bool) -> Iterator[None]:
    """A spinner on stderr for work that takes a while (never on --json, never into pipes' stdout)."""
    if not enabled:
        yield
        return
    with Progress(SpinnerColumn(), TextColumn(text), console=err, transient=True) as progress:
        progress.add_task(text, total=None)
        yield


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    return table


def _render_callers(doc: Json) -> None:
    rows = [[c["number"] + (f" ({c['agent_id']})" if c.get("agent_id") else ""), c["first_name"], c["name_source"],
             c["call_count"], c["memory_count"], (c["last_seen"] or "")[:19], c["language"]] for c in doc["callers"]]
    out.print(_table("Callers", ["number", "name", "name source", "calls", "memories", "last seen", "lang"], rows))
    if doc.get("next_offset") is not None:
        out.print(f"more: --offset {doc['next_offset']}")


@callers_app.command("list")
def callers_list(query: Annotated[str, typer.Argument(help="A number in any format, or some of its digits")] = "",
                 name: Annotated[str, typer.Option(help="Part of the first name")] = "",
                 seen_after: Annotated[datetime | None, typer.Option(help="Last seen at or after")] = None,
                 seen_before: Annotated[datetime | None, typer.Option(help="Last seen before")] = None,
                 limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
                 offset: Annotated[int, typer.Option(min=0)] = 0, as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """List or search callers, most recently seen first."""
    with admin_session(url) as ops:
        doc = ops.list_callers(query=query, name=name, seen_after=_utc(seen_after), seen_before=_utc(seen_before),
                               limit=limit, offset=offset)
    emit(doc, as_json, _render_callers)


def _render_caller(doc: Json) -> None:
    c = doc["caller"]
    out.print(f"[bold]{c['number']}[/bold]  {c['first_name'] or '(no name)'} ({c['name_source'] or '-'})  "
              f"calls {c['call_count']}  memories {c['memory_count']}  last seen {(c['last_seen'] or '')[:19]}")
    out.print(f"ref {c['caller_ref']}  language {c['language'] or '-'}")
    if c["last_call_summary"]:
        out.print(f"last call: {c['last_call_summary']}")
    rows = [[m["id"], m["type"], m["status"], m["slot"] or "", m["text"][:80], m["conversation_id"],
             (m["created_at"] or "")[:19]] for m in doc["memories"]]
    out.print(_table("Memories", ["id", "type", "status", "slot", "text", "call", "created"], rows))
    for slot, chain in doc["slots"].items():
        out.print(f"[bold]{slot}[/bold]: " + " -> ".join(f"{i['text']} ({i['status']}, {i['conversation_id']})"
                                                        for i in chain))
    rows = [[k["conversation_id"], (k["started_at"] or "")[:19], k.get("title") or k.get("summary", "")[:60],
             "yes" if k.get("audio") else ""] for k in doc["calls"]]
    out.print(_table("Calls", ["conversation", "started", "summary", "audio"], rows))
    for call in doc["calls"]:
        for turn in call.get("transcript", []):
            out.print(f"  [{call['conversation_id']}] {turn['role']}: {turn['message']}")


@callers_app.command("show")
def callers_show(number: str, transcripts: Annotated[bool, typer.Option(help="Include full transcripts")] = False,
                 agent: AgentOpt = None, as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """One caller: profile, memories (active and superseded, with slot history), calls."""
    with admin_session(url) as ops:
        doc = ops.show_caller(number, transcripts=transcripts, agent_id=agent)
    emit(doc, as_json, _render_caller)


@callers_app.command("export")
def callers_export(number: str,
                   out_file: Annotated[str | None, typer.Option("--out", help="Write to this file")] = None,
                   zip_file: Annotated[Path | None,
                                       typer.Option("--zip", help="Write a zip: caller.json + audio")] = None,
                   as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Everything held about one caller, as one JSON document (the right of access), or a zip with audio."""
    with admin_session(url) as ops:
        doc = ops.export_caller(number)
        audio = {c["conversation_id"]: ops.call_audio(c["conversation_id"]) for c in doc["calls"]
                 if zip_file is not None and "audio" in c["files"]}
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if zip_file is not None:
        with zipfile.ZipFile(zip_file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("caller.json", text + "\n")
            for conversation_id, data in audio.items():
                archive.writestr(f"audio/{safe_id(conversation_id)}.mp3", data)
        emit({"written": str(zip_file), "audio_files": len(audio)}, as_json,
             lambda d: out.print(f"written to {d['written']} ({d['audio_files']} audio files)"))
    elif out_file:
        with open(out_file, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        emit({"written": out_file}, as_json, lambda d: out.print(f"written to {d['written']}"))
    else:
        sys.stdout.write(text + "\n")


@callers_app.command("rename")
def callers_rename(number: str, name: str, agent: AgentOpt = None, as_json: JsonOpt = False,
                   url: UrlOpt = None) -> None:
    """Correct a caller's name. It wins over data collection and summaries; only the caller's own later
    self-introduction replaces it."""
    with admin_session(url) as ops:
        doc = ops.rename_caller(number, name, agent_id=agent)
    emit(doc, as_json, lambda d: out.print(f"{d['number']} is now {d['first_name']} (source {d['name_source']})"))


@callers_app.command("erase")
def callers_erase(number: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
                  as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Erase a caller everywhere (profile, memories and history, indexes, webhooks, files); prints a receipt."""
    if not yes and not typer.confirm(f"Erase everything held about {number}? This cannot be undone"):
        raise typer.Exit(1)
    with admin_session(url) as ops, working("erasing (the database is rewritten)...", not as_json):
        doc = ops.erase_caller(number)
    emit(doc, as_json, lambda d: out.print(_table(
        f"Erasure receipt {d['receipt_id']}", ["caller ref", "erased at", *d["counts"]],
        [[d["caller_ref"], d["erased_at"], *d["counts"].values()]])))


@memories_app.command("edit")
def memories_edit(memory_id: str, text: str, as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Replace one active memory's text; the old text stays in its history."""
    with admin_session(url) as ops:
        doc = ops.edit_memory(memory_id, text)
    emit(doc, as_json, lambda d: out.print(f"{d['replaces']} -> {d['memory']['id']}: {d['memory']['text']}"))


@memories_app.command("delete")
def memories_delete(memory_id: str, as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Delete one memory: never recalled again, still listed in the caller's history."""
    with admin_session(url) as ops:
        doc = ops.delete_memory(memory_id)
    emit(doc, as_json, lambda d: out.print(f"deleted {d['deleted']}"))


def _render_jobs(doc: Json) -> None:
    rows = [[j["id"], j["status"], j["event_type"], j["conversation_id"], j["attempts"], (j["received_at"] or "")[:19],
             j["error"][:80]] for j in doc["jobs"]]
    out.print(_table("Jobs", ["id", "status", "event", "conversation", "attempts", "received", "error"], rows))


@dead_app.command("list")
def dead_list(status: Annotated[str, typer.Option(help="dead, queued, running, done, erased or any")] = "dead",
              limit: Annotated[int, typer.Option(min=1, max=500)] = 50, offset: Annotated[int, typer.Option(min=0)] = 0,
              as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """List dead letters (or jobs in another state), newest first."""
    with admin_session(url) as ops:
        doc = ops.list_jobs(status=None if status == "any" else status, limit=limit, offset=offset)
    emit(doc, as_json, _render_jobs)


@dead_app.command("show")
def dead_show(job_id: int, as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """One job: error, attempts, event type, conversation id."""
    with admin_session(url) as ops:
        doc = ops.show_job(job_id)
    emit(doc, as_json, lambda d: _render_jobs({"jobs": [d]}))


def _ids(job_ids: list[int] | None, every: bool) -> list[int] | None:
    if every == bool(job_ids):
        err.print("give job ids, or --all")
        raise typer.Exit(2)
    return None if every else list(job_ids or [])


def _on_jobs(job_ids: list[int] | None, every: bool, url: str | None,
             act: Callable[[Admin, list[int] | None], Json]) -> Json:
    ids = _ids(job_ids, every)
    with admin_session(url) as ops:
        return act(ops, ids)


@dead_app.command("replay")
def dead_replay(job_ids: JobIdsArg = None, every: EveryOpt = False, as_json: JsonOpt = False,
                url: UrlOpt = None) -> None:
    """Queue dead letters again with a fresh attempt count."""
    doc = _on_jobs(job_ids, every, url, lambda ops, ids: ops.replay(ids))
    emit(doc, as_json, lambda d: out.print(f"replayed {d['replayed']}"))


@dead_app.command("purge")
def dead_purge(job_ids: JobIdsArg = None, every: EveryOpt = False, as_json: JsonOpt = False,
               url: UrlOpt = None) -> None:
    """Delete dead letters and their bodies."""
    doc = _on_jobs(job_ids, every, url, lambda ops, ids: ops.purge(ids))
    emit(doc, as_json, lambda d: out.print(f"purged {d['purged']}"))


@retention_app.command("run")
def retention_run(as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Apply the configured retention now (the worker also does, hourly)."""
    with admin_session(url) as ops, working("applying retention...", not as_json):
        doc = ops.run_retention()
    emit(doc, as_json, lambda d: out.print(_table("Removed", list(d["removed"]) or ["(no retention configured)"],
                                                  [list(d["removed"].values())])))


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.astimezone()


def register(app: typer.Typer) -> None:
    app.add_typer(callers_app, name="callers")
    app.add_typer(memories_app, name="memories")
    app.add_typer(dead_app, name="dead")
    app.add_typer(retention_app, name="retention")
