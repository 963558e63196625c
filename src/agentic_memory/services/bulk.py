"""Bulk moves: import of past conversations (ElevenLabs post-call payloads), export of all memories, and
the copy of a whole database into another (`agentic-memory copy`, SQLite <-> PostgreSQL).

Import goes through the webhook's own durable path (the inbox, then the worker), minus the signature:
the operator vouches for the files. It is resumable: the inbox keys each webhook by (conversation id,
event type), so running the same import again after an interruption skips what was already taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from agentic_memory.domain.scope import split_key
from agentic_memory.elevenlabs import payloads
from agentic_memory.errors import InvalidInput
from agentic_memory.ports import COPY_KEYS, CallerQuery, Clock, JobQueue, RecordStore
from agentic_memory.services.admin import AdminDeps, audit, history_json

Progress = Callable[[int, int], None]
PAGE = 200


def payload_sources(path: Path) -> list[Path]:
    """The files an import reads: `path` itself, or every .json / .jsonl under the folder, sorted."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))
    raise InvalidInput(f"no such file or folder: {path}")


def _bodies(source: Path) -> Iterator[bytes]:
    if source.suffix == ".jsonl":
        with source.open("rb") as handle:
            for line in handle:
                if line.strip():
                    yield line.strip()
        return
    data = source.read_bytes()
    value = orjson.loads(data) if data.lstrip().startswith(b"[") else None
    if isinstance(value, list):  # a history export as one JSON array
        for item in value:
            yield orjson.dumps(item)
    else:
        yield data


def import_payloads(path: Path, *, queue: JobQueue, clock: Clock, progress: Progress | None = None) -> dict[str, int]:
    """Queue every payload found at `path`; returns counts of accepted, already present and invalid ones."""
    counts = {"accepted": 0, "already_imported": 0, "invalid": 0}
    sources = payload_sources(path)
    for done, source in enumerate(sources, 1):
        for body in _bodies(source):
            try:
                event = payloads.parse_event(body)
            except InvalidInput:
                counts["invalid"] += 1
                continue
            fresh = queue.accept(event_type=event.type, conversation_id=event.conversation_id, body=body,
                                 received_at=clock.now()).result()
            counts["accepted" if fresh else "already_imported"] += 1
        if progress is not None:
            progress(done, len(sources))
    return counts


def export_memories(deps: AdminDeps, out: TextIO, *, actor: str, progress: Progress | None = None) -> dict[str, int]:
    """Every memory of every caller (active and retired, with status), one JSON object per line."""
    written = callers = offset = 0
    total = deps.admin.totals().callers
    while page := deps.admin.find_callers(CallerQuery(limit=PAGE, offset=offset)):
        for profile in page:
            for item in history_json(deps.admin.caller_memories(profile.caller_id))["memories"]:
                number, agent = split_key(profile.caller_id)
                record: dict[str, Any] = {"caller": number, "agent_id": agent or None, **item}
                out.write(orjson.dumps(record).decode() + "\n")
                written += 1
            callers += 1
            if progress is not None:
                progress(callers, total)
        offset += PAGE
    audit(deps, actor, "memories.export", callers=callers, memories=written)
    return {"callers": callers, "memories": written}


@dataclass
class CopyReport:
    """Per kind of row: how many this run inserted, how many the target had already, and the final counts."""

    copied: dict[str, int] = field(default_factory=dict)
    already_there: dict[str, int] = field(default_factory=dict)
    source: dict[str, int] = field(default_factory=dict)
    target: dict[str, int] = field(default_factory=dict)

    @property
    def mismatched(self) -> list[str]:
        """The kinds whose counts differ after the copy (the source changed, or the target held other rows)."""
        return [kind for kind in COPY_KEYS if self.source.get(kind) != self.target.get(kind)]


def copy_database(source: RecordStore, target: RecordStore, *, page: int = PAGE,
                  progress: Callable[[str, int, int], None] | None = None) -> CopyReport:
    """Copy every row of `source` into `target` (callers, conversations, file links, memories with their
    history and vectors, the webhook inbox with each job's state, the audit trail), then count both sides.

    Safe to run again after an interruption: rows already in the target are skipped, never duplicated.
    `progress(kind, done, total)` follows each page. Stop the servers and workers on the source first, or
    rows they add meanwhile show up as a count mismatch.
    """
    report = CopyReport()
    for kind, key in COPY_KEYS.items():
        total = source.count(kind)
        done = copied = 0
        after: tuple[Any, ...] | None = None
        if progress is not None:
            progress(kind, 0, total)
        while records := source.read(kind, after=after, limit=page):
            copied += target.write(kind, records)
            done += len(records)
            after = tuple(records[-1][name] for name in key)
            if progress is not None:
                progress(kind, done, max(total, done))
        report.copied[kind] = copied
        report.already_there[kind] = done - copied
    target.finish()
    for kind in COPY_KEYS:
        report.source[kind] = source.count(kind)
        report.target[kind] = target.count(kind)
    return report
