"""SQLite connections, migrations and named queries.

Durability choice: WAL journal with `synchronous=FULL`. WAL lets readers (client-data, retrieve) run
while the worker writes; FULL fsyncs the WAL on every commit, so a webhook we answered 200 survives a
process kill *and* a power cut. NORMAL would only survive the former.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from agentic_memory.adapters.sql import named_queries, schema_migrations
from agentic_memory.errors import StorageError

BUSY_TIMEOUT_MS = 30_000
_NAMESPACE = re.compile(r"\bz\d*z")  # scoped_terms.prefix
# FTS5's merge policy for the keyword index. Each call's transaction adds a segment and a MATCH reads every
# segment; FTS5's default crisismerge (16) lets up to 15 pile up on a level before merging them at once.
# At 4 there are about half as many, for a little more merging per commit (bench/PERF_NOTES.md item 40).
# FTS5 keeps it in memory_fts_config; it is set on every migrate, so an index any migration rebuilds has it.
FTS_MERGE = {"crisismerge": 4}


def queries() -> dict[str, str]:
    return named_queries(__package__, "queries.sql")


def _migrations() -> tuple[tuple[int, str], ...]:
    return schema_migrations(__package__)


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"sqlite: {exc.__class__.__name__}: {exc}") from exc


class Database:
    """One SQLite file. Each thread gets its own connection; writes are serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        with translate_errors():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            # Small per-connection page cache: every thread-pool thread gets its own connection, so a large
            # cache each multiplies the server's memory; the OS page cache behind them is shared.
            conn.execute("PRAGMA cache_size=-2048")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE), committed on success, rolled back on error."""
        conn = self.connection()
        with self._write_lock, translate_errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def migrate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as conn:
            for name, (arity, function) in _migration_functions().items():
                conn.create_function(name, arity, function, deterministic=True)
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in _migrations():
                if version in done:
                    continue
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
            for option, value in FTS_MERGE.items():
                conn.execute("INSERT INTO memory_fts (memory_fts, rank) VALUES (?, ?)", (option, value))

    def integrity_check(self) -> str:
        with translate_errors():
            return str(self.connection().execute("PRAGMA integrity_check").fetchone()[0])

    def ping(self) -> None:
        with translate_errors():
            self.connection().execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


def _migration_functions() -> dict[str, tuple[int, Callable[..., str | int]]]:
    """The Python functions migrations call (terms are the domain's, not SQL's)."""
    from agentic_memory.adapters.sqlite.scoped_terms import scoped_terms, scoped_text
    from agentic_memory.domain.keyword_score import index_terms

    return {"am_scoped_text": (2, scoped_text), "am_scoped_terms": (2, scoped_terms),
            "am_term_count": (1, lambda text: len(index_terms(text or ""))),
            "am_unscoped_words": (1, lambda value: _NAMESPACE.sub("", value or ""))}


def _statements(sql: str) -> list[str]:
    # The schema has no semicolons inside statements, so a plain split is safe here.
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
