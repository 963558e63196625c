"""PostgresRecords: the PostgreSQL database's rows as the plain records `agentic-memory copy` moves (copy.sql).

Times are timestamptz here and POSIX seconds in a record; webhook bodies live in `job_bodies` (a job
without one reads as b""); the keyword index is rebuilt from the text and keywords on write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from agentic_memory.adapters.postgres.database import PostgresDatabase, clean
from agentic_memory.adapters.postgres.memory_store import index_params
from agentic_memory.ports import COPY_FIELDS, COPY_TIMES

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def _sql() -> dict[str, str]:
    text = resources.files(__package__).joinpath("copy.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


def _record(kind: str, row: Sequence[Any]) -> dict[str, Any]:
    record = dict(zip(COPY_FIELDS[kind], row, strict=True))
    for name in COPY_TIMES.intersection(record):
        if record[name] is not None:
            record[name] = record[name].timestamp()
    for name in ("vector", "body"):
        if name in record:
            record[name] = bytes(record[name])
    if kind == "callers":
        record["top_facts"] = list(record["top_facts"])
    return record


def _params(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    params = dict(record)
    for name in COPY_TIMES.intersection(params):
        if params[name] is not None:
            params[name] = datetime.fromtimestamp(params[name], tz=UTC)
    if kind == "callers":
        params["top_facts"] = list(record["top_facts"])
    if kind == "memories":
        params.update(index_params(record["text"], record["keywords"]))
    return params


class PostgresRecords:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    def count(self, kind: str) -> int:
        with self.db.connection() as conn:
            row = conn.execute(_sql()[f"count_{kind}"]).fetchone()
        return int(row[0]) if row else 0

    def read(self, kind: str, *, after: tuple[Any, ...] | None, limit: int) -> list[dict[str, Any]]:
        first, second = (*after, None)[:2] if after else (None, None)
        with self.db.connection() as conn:
            rows = conn.execute(_sql()[f"read_{kind}"], {"after": first, "after2": second,
                                                         "limit": limit}).fetchall()
        return [_record(kind, row) for row in rows]

    def write(self, kind: str, records: Sequence[dict[str, Any]]) -> int:
        inserted = 0
        params = [clean(_params(kind, record)) or {} for record in records]
        with self.db.transaction() as conn, conn.cursor() as cursor:
            if kind == "inbox":  # a CTE's INSERT reports no rowcount: the statement counts itself
                for each in params:
                    row = cursor.execute(_sql()["write_inbox"], each).fetchone()
                    inserted += int(row[0]) if row else 0
            else:  # one pipelined batch: a page costs one round trip, not one per row
                cursor.executemany(_sql()[f"write_{kind}"], params)
                inserted = cursor.rowcount
        return inserted

    def finish(self) -> None:
        with self.db.connection() as conn:
            conn.execute(_sql()["finish_audit_events"])
