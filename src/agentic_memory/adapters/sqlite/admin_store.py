"""SqliteAdminStore: the operator's reads (shared with PostgreSQL, `sql.AdminReads`) and changes, SQL in `admin.sql`.

Erasure is meant to survive an auditor reading the file's bytes: `secure_delete` overwrites freed
content, `compact` rewrites the FTS index segments (a deleted term can linger in an old segment until
merged), checkpoints the WAL into the main file, truncates it and VACUUMs free pages away.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from agentic_memory.adapters.sql import AdminReads, named_queries
from agentic_memory.adapters.sqlite.database import Database, translate_errors
from agentic_memory.adapters.sqlite.memory_store import ROWS, SqliteMemoryStore
from agentic_memory.domain.models import MemoryType
from agentic_memory.ports import AuditEvent, ErasedRows, MemoryChange


def admin_queries() -> dict[str, str]:
    return named_queries(__package__, "admin.sql")


class SqliteAdminStore(AdminReads):
    rows = ROWS

    def __init__(self, db: Database) -> None:
        self.db = db
        self.memories = SqliteMemoryStore(db)  # reuses its insert + index of one memory

    def _read(self, name: str, params: dict[str, object]) -> list[sqlite3.Row]:
        with translate_errors():
            return self.db.connection().execute(admin_queries()[name], params).fetchall()

    def _at(self, value: datetime) -> float:
        return value.timestamp()

    def set_name(self, caller_id: str, first_name: str, *, source: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(admin_queries()["set_name"], {
                "caller_id": caller_id, "first_name": first_name, "source": source}).rowcount == 1

    def change_memory(self, change: MemoryChange) -> bool:
        import numpy as np

        q = admin_queries()
        by = change.replacement.memory.id if change.replacement else "operator:deleted"
        with self.db.transaction() as conn:
            row = conn.execute(q["retire_memory"], {
                "id": change.memory_id, "caller_id": change.caller_id, "by": by,
                "at": change.at.timestamp(), "reason": change.reason}).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM memory_fts WHERE rowid = ?", (row[0],))
            if change.replacement is not None:
                r = change.replacement
                self.memories._insert(conn, r.memory, np.asarray(r.vector, np.float32), r.keywords)
            conn.execute(q["refresh_profile"], {
                "caller_id": change.caller_id, "top_facts": json.dumps(list(change.top_facts), ensure_ascii=False)})
        return True

    def erase_caller(self, caller_id: str, *, conversation_ids: Sequence[str] = ()) -> ErasedRows:
        q = admin_queries()
        keys: list[str] = []
        inbox = 0
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left with the old bytes
            own = [r[0] for r in conn.execute(q["caller_conversations"], {"caller_id": caller_id})]
            for cid in dict.fromkeys([*own, *conversation_ids]):
                keys += [r[0] for r in conn.execute(q["conversation_files"], {"conversation_id": cid})]
                conn.execute(q["delete_files"], {"conversation_id": cid})
                conn.execute(q["delete_conversation"], {"conversation_id": cid})
                inbox += conn.execute(q["tombstone_inbox"], {"conversation_id": cid}).rowcount
            conn.execute(q["unindex_caller"], {"caller_id": caller_id})
            memories = conn.execute(q["delete_memories"], {"caller_id": caller_id}).rowcount
            profile = conn.execute(q["delete_caller"], {"caller_id": caller_id}).rowcount
        return ErasedRows(profile=profile, conversations=len(own), memories=memories, inbox=inbox,
                          file_keys=tuple(keys))

    def compact(self, *, full: bool = True) -> None:
        if full:
            with self.db.transaction() as conn:
                conn.execute("PRAGMA secure_delete=ON")
                # Rewrites the index as one segment: terms of deleted rows leave the shadow tables.
                conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('optimize')")
        with translate_errors():
            conn = self.db.connection()
            conn.execute("PRAGMA secure_delete=ON")
            if full:
                conn.execute("VACUUM")  # no free page keeps an old copy of anything
            # Old page images live on in the WAL until it is checkpointed and truncated.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def requeue(self, job_ids: Sequence[int] | None, *, now: datetime) -> int:
        with self.db.transaction() as conn:
            return conn.execute(admin_queries()["requeue"], {
                "now": now.timestamp(), "all": job_ids is None, "ids": json.dumps(list(job_ids or []))}).rowcount

    def purge(self, job_ids: Sequence[int] | None) -> int:
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")
            return conn.execute(admin_queries()["purge"], {
                "all": job_ids is None, "ids": json.dumps(list(job_ids or []))}).rowcount

    def expire_bodies(self, before: datetime) -> int:
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")
            return conn.execute(admin_queries()["expire_bodies"], {"before": before.timestamp()}).rowcount

    def expire_files(self, kinds: Sequence[str], before: datetime) -> list[str]:
        q = admin_queries()
        with self.db.transaction() as conn:
            rows = conn.execute(q["expired_files"], {"before": before.timestamp(),
                                                     "kinds": json.dumps(list(kinds))}).fetchall()
            for cid, kind, _ in rows:
                conn.execute(q["unlink_file"], {"conversation_id": cid, "kind": kind})
        return [r[2] for r in rows]

    def expire_memories(self, type: MemoryType, before: datetime) -> dict[str, int]:
        q = admin_queries()
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")
            rows = conn.execute(q["expired_memories"], {"type": type, "before": before.timestamp()}).fetchall()
            for rowid, _ in rows:
                conn.execute("DELETE FROM memory_fts WHERE rowid = ?", (rowid,))
                conn.execute(q["delete_memory"], {"rowid": rowid})
        return dict(Counter(r[1] for r in rows))

    def refresh_profile(self, caller_id: str, top_facts: Sequence[str]) -> None:
        with self.db.transaction() as conn:
            conn.execute(admin_queries()["refresh_profile"], {
                "caller_id": caller_id, "top_facts": json.dumps(list(top_facts), ensure_ascii=False)})

    def record_audit(self, event: AuditEvent) -> None:
        with self.db.transaction() as conn:
            conn.execute(admin_queries()["record_audit"], {
                "at": event.at.timestamp(), "actor": event.actor, "action": event.action,
                "caller_ref": event.caller_ref, "detail": json.dumps(event.detail, default=str)})
