"""SqliteMemoryStore: callers, conversations, memories (vectors as float32 blobs) and an FTS5 index.

Every read is scoped by caller in SQL; keyword terms are also namespaced per caller in the FTS index
(`scoped_terms.py`), so one caller's search never even reads another caller's postings.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agentic_memory.adapters.sql import Rows
from agentic_memory.adapters.sqlite.database import Database, queries, translate_errors
from agentic_memory.adapters.sqlite.scoped_terms import scoped_match, scoped_terms, unscoped
from agentic_memory.clock import SystemClock
from agentic_memory.domain.keyword_score import Candidate, Corpus, bm25, index_terms, query_phrases
from agentic_memory.domain.models import CallContext, CallerProfile, CallUpdate, Memory, MemoryType
from agentic_memory.ports import Clock

if TYPE_CHECKING:  # annotations only; numpy is imported with the first vector (a greeting needs none)
    import numpy as np

_MEMORY_COLUMNS = ("id, caller_id, type, text, conversation_id, agent_id, created_at, category, slot, "
                   "turn_start, turn_end")


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _top_facts(raw: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


ROWS = Rows(time=_ts, facts=_top_facts)


def term_count(text: str, keywords: str) -> int:
    return len(index_terms(text)) + len(index_terms(keywords))


def index(conn: sqlite3.Connection, rowid: int | None, caller_id: str, text: str, keywords: str) -> None:
    """Add an active memory to the keyword index."""
    conn.execute(queries()["index_memory"], {
        "rowid": rowid, "text": scoped_terms(caller_id, text), "keywords": scoped_terms(caller_id, keywords)})


def _profile(conn: sqlite3.Connection, caller_id: str) -> CallerProfile | None:
    row = conn.execute(queries()["get_caller"], {"caller_id": caller_id}).fetchone()
    return None if row is None else ROWS.profile(row)


class SqliteMemoryStore:
    # /health may run ping/stats on the event loop (http/health.py): reads of a local file in WAL mode, which
    # never wait for a writer while this process holds its connections open.
    probe_inline = True

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()

    def caller(self, caller_id: str) -> CallerProfile | None:
        with translate_errors():
            return _profile(self.db.connection(), caller_id)

    def load_call(self, conversation_id: str, caller_id: str | None) -> CallContext:
        import numpy as np

        conn = self.db.connection()
        with translate_errors():
            conn.execute("BEGIN")  # one snapshot for the three reads
            try:
                processed = conn.execute(queries()["has_conversation"],
                                         {"conversation_id": conversation_id}).fetchone() is not None
                if processed or caller_id is None:
                    return CallContext(processed=processed, profile=None)
                rows = conn.execute(queries()["active_facts"], {"caller_id": caller_id}).fetchall()
                return CallContext(processed=False, profile=_profile(conn, caller_id), active_facts=tuple(
                    (ROWS.memory(row), np.frombuffer(row[11], dtype=np.float32)) for row in rows))
            finally:
                conn.execute("COMMIT")

    def save_call(self, update: CallUpdate) -> bool:
        with self.db.transaction() as conn:
            inserted = conn.execute(queries()["insert_conversation"], {
                "conversation_id": update.conversation_id, "caller_id": update.caller_id,
                "agent_id": update.agent_id, "started_at": update.started_at.timestamp(),
                "processed_at": self.clock.now().timestamp()}).rowcount
            if inserted != 1:
                return False
            for memory_id, replacement in update.superseded:
                self._supersede(conn, update.caller_id or "", memory_id, replacement)
            for stored in update.new_memories:
                self._insert(conn, stored.memory, stored.vector, stored.keywords)
            for kind, key in update.files.items():
                conn.execute(queries()["link_file"], {
                    "conversation_id": update.conversation_id, "kind": kind, "key": key})
            if update.profile is not None:
                self._upsert_caller(conn, update.profile)
        return True

    def _supersede(self, conn: sqlite3.Connection, caller_id: str, memory_id: str, by: str) -> None:
        row = conn.execute(queries()["supersede_memory"], {
            "id": memory_id, "by": by, "caller_id": caller_id}).fetchone()
        if row is not None:
            conn.execute(queries()["unindex_memory"], {"rowid": row[0]})

    def _insert(self, conn: sqlite3.Connection, m: Memory, vector: np.ndarray, keywords: str) -> None:
        import numpy as np

        cursor = conn.execute(queries()["insert_memory"], {
            "id": m.id, "caller_id": m.caller_id, "type": m.type, "text": m.text, "category": m.category,
            "slot": m.slot, "conversation_id": m.conversation_id, "agent_id": m.agent_id,
            "created_at": m.created_at.timestamp(), "turn_start": m.turn_start, "turn_end": m.turn_end,
            "vector": np.asarray(vector, dtype=np.float32).tobytes(), "keywords": keywords,
            "term_count": term_count(m.text, keywords)})
        index(conn, cursor.lastrowid, m.caller_id, m.text, keywords)

    def _upsert_caller(self, conn: sqlite3.Connection, p: CallerProfile) -> None:
        conn.execute(queries()["upsert_caller"], {
            "caller_id": p.caller_id, "first_seen": p.first_seen.timestamp(), "last_seen": p.last_seen.timestamp(),
            "call_count": p.call_count, "first_name": p.first_name, "name_source": p.name_source,
            "language": p.language, "last_call_summary": p.last_call_summary, "memory_count": p.memory_count,
            "top_facts": json.dumps(list(p.top_facts), ensure_ascii=False)})

    def latest_call(self) -> datetime | None:
        with translate_errors():
            row = self.db.connection().execute(queries()["latest_call"]).fetchone()
        return None if row[0] is None else _ts(row[0])

    def link_file(self, conversation_id: str, kind: str, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(queries()["link_file"], {"conversation_id": conversation_id, "kind": kind, "key": key})

    def files(self, conversation_id: str) -> dict[str, str]:
        with translate_errors():
            rows = self.db.connection().execute(
                queries()["files"], {"conversation_id": conversation_id}).fetchall()
        return {kind: key for kind, key in rows}

    def dense_search(self, caller_id: str, vector: np.ndarray, *, limit: int,
                     type: MemoryType | None) -> list[tuple[str, float]]:
        import numpy as np

        with translate_errors():
            rows = self.db.connection().execute(
                queries()["active_vectors"], {"caller_id": caller_id, "type": type}).fetchall()
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), -1)
        scores = matrix @ np.asarray(vector, dtype=np.float32)
        top = np.argsort(-scores)[:limit]
        return [(rows[i][0], float(scores[i])) for i in top]

    def keyword_search(self, caller_id: str, terms: Sequence[str], *, limit: int,
                       type: MemoryType | None) -> list[tuple[str, float]]:
        phrases = query_phrases(terms)
        if not phrases:
            return []
        with translate_errors():
            rows = self.db.connection().execute(queries()["keyword_search"], {
                "match": scoped_match(caller_id, phrases), "caller_id": caller_id, "type": type}).fetchall()
        if not rows:
            return []
        candidates = [Candidate(row[0], unscoped(caller_id, row[1]), unscoped(caller_id, row[2])) for row in rows]
        return bm25(phrases, candidates, Corpus(documents=rows[0][3], terms=rows[0][4]), limit=limit)

    def memories(self, ids: Sequence[str]) -> dict[str, Memory]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id IN ({marks})"  # noqa: S608 - constants and "?"s only
        with translate_errors():
            rows = self.db.connection().execute(sql, list(ids)).fetchall()
        return {row[0]: ROWS.memory(row) for row in rows}

    def active_memories(self) -> Iterator[Memory]:
        """Every active memory, a conversation's together: what `agentic-memory copy-to-mem0` sends."""
        with translate_errors():
            for row in self.db.connection().execute(queries()["export_memories"]):
                yield ROWS.memory(row)

    def count_active_memories(self) -> int:
        with translate_errors():
            return int(self.db.connection().execute(queries()["count_active_memories"]).fetchone()[0])

    def ping(self) -> None:
        self.db.ping()
