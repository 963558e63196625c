"""PostgresMemoryStore: callers, conversations, memories (float32 vectors as bytea) and their keyword terms.

Every read is scoped by caller in SQL. Dense scores are exact, in numpy, over that caller's active
vectors, as on SQLite (no pgvector needed; a caller has hundreds of memories, not millions). Keyword
scores are the domain's BM25 (domain/keyword_score.py) over the index terms each memory keeps, as on SQLite:
the database only finds the caller's memories that hold a query term.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from agentic_memory.adapters.postgres.database import PostgresDatabase, clean, queries
from agentic_memory.adapters.sql import Rows
from agentic_memory.clock import SystemClock
from agentic_memory.domain.keyword_score import (
    Candidate,
    Corpus,
    bm25,
    index_terms,
    phrase_tokens,
    query_phrases,
)
from agentic_memory.domain.models import CallContext, CallerProfile, CallUpdate, Memory, MemoryType
from agentic_memory.ports import Clock

if TYPE_CHECKING:  # annotations only; numpy is imported with the first vector (a greeting needs none)
    import numpy as np

def index_params(text: str, keywords: str) -> dict[str, Any]:
    """A memory's keyword columns: its raw keywords and the index terms of its text and keywords."""
    text_terms, keyword_terms = index_terms(text), index_terms(keywords)
    return {"keywords": keywords, "text_terms": " ".join(text_terms), "keyword_terms": " ".join(keyword_terms),
            "term_count": len(text_terms) + len(keyword_terms)}


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


ROWS = Rows(time=_utc, facts=tuple)


def _profile(conn: psycopg.Connection[Any], caller_id: str) -> CallerProfile | None:
    row = conn.execute(queries()["get_caller"], clean({"caller_id": caller_id})).fetchone()
    return None if row is None else ROWS.profile(row)


class PostgresMemoryStore:
    def __init__(self, db: PostgresDatabase, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()

    def caller(self, caller_id: str) -> CallerProfile | None:
        with self.db.connection() as conn:
            return _profile(conn, caller_id)

    def load_call(self, conversation_id: str, caller_id: str | None) -> CallContext:
        import numpy as np

        with self.db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")  # one snapshot
            processed = conn.execute(queries()["has_conversation"],
                                     clean({"conversation_id": conversation_id})).fetchone() is not None
            if processed or caller_id is None:
                return CallContext(processed=processed, profile=None)
            rows = conn.execute(queries()["active_facts"], clean({"caller_id": caller_id})).fetchall()
            return CallContext(processed=False, profile=_profile(conn, caller_id), active_facts=tuple(
                (ROWS.memory(row), np.frombuffer(row[11], dtype=np.float32)) for row in rows))

    def save_call(self, update: CallUpdate) -> bool:
        with self.db.transaction() as conn:
            inserted = conn.execute(queries()["insert_conversation"], clean({
                "conversation_id": update.conversation_id, "caller_id": update.caller_id,
                "agent_id": update.agent_id, "started_at": update.started_at,
                "processed_at": self.clock.now()})).rowcount
            if inserted != 1:
                return False
            for memory_id, replacement in update.superseded:
                conn.execute(queries()["supersede_memory"], clean({
                    "id": memory_id, "by": replacement, "caller_id": update.caller_id or ""}))
            for stored in update.new_memories:
                self._insert(conn, stored.memory, stored.vector, stored.keywords)
            for kind, key in update.files.items():
                conn.execute(queries()["link_file"], clean({
                    "conversation_id": update.conversation_id, "kind": kind, "key": key}))
            if update.profile is not None:
                self._upsert_caller(conn, update.profile)
        return True

    def _insert(self, conn: psycopg.Connection[Any], m: Memory, vector: np.ndarray, keywords: str) -> None:
        import numpy as np

        conn.execute(queries()["insert_memory"], clean({
            "id": m.id, "caller_id": m.caller_id, "type": m.type, "text": m.text, "category": m.category,
            "slot": m.slot, "conversation_id": m.conversation_id, "agent_id": m.agent_id,
            "created_at": m.created_at, "turn_start": m.turn_start, "turn_end": m.turn_end,
            "vector": np.asarray(vector, dtype=np.float32).tobytes(), **index_params(m.text, keywords)}))

    def _upsert_caller(self, conn: psycopg.Connection[Any], p: CallerProfile) -> None:
        conn.execute(queries()["upsert_caller"], clean({
            "caller_id": p.caller_id, "first_seen": p.first_seen, "last_seen": p.last_seen,
            "call_count": p.call_count, "first_name": p.first_name, "name_source": p.name_source,
            "language": p.language, "last_call_summary": p.last_call_summary, "memory_count": p.memory_count,
            "top_facts": list(p.top_facts)}))

    def latest_call(self) -> datetime | None:
        row = self.db.fetchone("latest_call")
        return None if row is None or row[0] is None else _utc(row[0])

    def link_file(self, conversation_id: str, kind: str, key: str) -> None:
        self.db.execute("link_file", {"conversation_id": conversation_id, "kind": kind, "key": key})

    def files(self, conversation_id: str) -> dict[str, str]:
        return {kind: key for kind, key in self.db.fetchall("files", {"conversation_id": conversation_id})}

    def dense_search(self, caller_id: str, vector: np.ndarray, *, limit: int,
                     type: MemoryType | None) -> list[tuple[str, float]]:
        import numpy as np

        rows = self.db.fetchall("active_vectors", {"caller_id": caller_id, "type": type})
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), -1)
        scores = matrix @ np.asarray(vector, dtype=np.float32)
        top = np.argsort(-scores, kind="stable")[:limit]
        return [(rows[i][0], float(scores[i])) for i in top]

    def keyword_search(self, caller_id: str, terms: Sequence[str], *, limit: int,
                       type: MemoryType | None) -> list[tuple[str, float]]:
        phrases = query_phrases(terms)
        if not phrases:
            return []
        rows = self.db.fetchall("keyword_search", {"tokens": phrase_tokens(phrases), "caller_id": caller_id,
                                                   "type": type})
        if not rows:
            return []
        candidates = [Candidate(row[0], row[1].split(), row[2].split()) for row in rows]
        return bm25(phrases, candidates, Corpus(documents=rows[0][3], terms=rows[0][4]), limit=limit)

    def memories(self, ids: Sequence[str]) -> dict[str, Memory]:
        if not ids:
            return {}
        return {row[0]: ROWS.memory(row) for row in self.db.fetchall("memories", {"ids": list(ids)})}

    def ping(self) -> None:
        self.db.ping()
