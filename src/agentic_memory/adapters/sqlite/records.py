"""SqliteRecords: the SQLite database's rows as the plain records `agentic-memory copy` moves (copy.sql).

Times are stored as POSIX seconds already; top facts as JSON text; the keyword index is rebuilt from the
text and keywords on write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from agentic_memory.adapters.sqlite.database import Database, translate_errors
from agentic_memory.adapters.sqlite.memory_store import index, term_count
from agentic_memory.ports import COPY_FIELDS

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def _sql() -> dict[str, str]:
    text = resources.files(__package__).joinpath("copy.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


def _record(kind: str, row: Sequence[Any]) -> dict[str, Any]:
    record = dict(zip(COPY_FIELDS[kind], row, strict=True))
    if kind == "callers":
        value = json.loads(record["top_facts"] or "[]")
        record["top_facts"] = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    elif kind == "inbox":
        record["body"] = bytes(record["body"])
    return record


class SqliteRecords:
    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self, kind: str) -> int:
        with translate_errors():
            return int(self.db.connection().execute(_sql()[f"count_{kind}"]).fetchone()[0])

    def read(self, kind: str, *, after: tuple[Any, ...] | None, limit: int) -> list[dict[str, Any]]:
        first, second = (*after, None)[:2] if after else (None, None)
        with translate_errors():
            rows = self.db.connection().execute(_sql()[f"read_{kind}"], {
                "after": first, "after2": second, "limit": limit}).fetchall()
        return [_record(kind, row) for row in rows]

    def write(self, kind: str, records: Sequence[dict[str, Any]]) -> int:
        inserted = 0
        with self.db.transaction() as conn:
            for record in records:
                params = dict(record)
                if kind == "callers":
                    params["top_facts"] = json.dumps(list(record["top_facts"]), ensure_ascii=False)
                if kind == "memories":
                    params["term_count"] = term_count(record["text"], record["keywords"])
                cursor = conn.execute(_sql()[f"write_{kind}"], params)
                inserted += cursor.rowcount
                if kind == "memories" and cursor.rowcount == 1 and record["superseded_by"] is None:
                    index(conn, cursor.lastrowid, record["caller_id"], record["text"], record["keywords"])
        return inserted

    def finish(self) -> None:
        """Nothing to do: SQLite's INTEGER PRIMARY KEY continues after the largest id by itself."""
