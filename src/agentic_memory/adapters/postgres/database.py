"""PostgreSQL connection pool, migrations and named queries.

Every failure of the driver or the pool (server down, connection lost, pool exhausted, statement timeout)
leaves this module as StorageError, which the HTTP layer answers with 503 and the worker retries. Nothing
waits unbounded: the pool hands out a connection within `pool_timeout` seconds or gives up, and each
statement is cancelled by the server after `statement_timeout_ms`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool

from agentic_memory.adapters.sql import named_queries, schema_migrations
from agentic_memory.errors import ConfigurationError, StorageError

# Any constant shared by every process of this application: `migrate` holds it while it changes the schema.
MIGRATION_LOCK_KEY = 0x616D_6D69_6772  # "ammigr"
CONNECT_TIMEOUT_SECS = 5


def queries() -> dict[str, str]:
    return named_queries(__package__, "queries.sql")


TERMS_MIGRATION = 3  # schema.sql's step that adds the keyword terms, which Python fills


def _fill_terms(conn: psycopg.Connection[Any]) -> None:
    """Each memory's index terms (domain/keyword_score.py): computed here, as on every insert."""
    from agentic_memory.adapters.postgres.memory_store import index_params

    while rows := conn.execute("SELECT id, text, keywords FROM memories WHERE term_count IS NULL LIMIT 1000"
                               ).fetchall():  # pages: a large table is never all in memory at once
        with conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE memories SET text_terms = %(text_terms)s, keyword_terms = %(keyword_terms)s, "
                "term_count = %(term_count)s WHERE id = %(id)s",
                [clean({"id": memory_id, **index_params(text, keywords)}) or {} for memory_id, text, keywords in rows])
    conn.execute("ALTER TABLE memories ALTER COLUMN term_count SET NOT NULL")


def migrations() -> tuple[tuple[int, str], ...]:
    return schema_migrations(__package__)


def latest_version() -> int:
    return max(version for version, _ in migrations())


def clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """PostgreSQL text cannot hold NUL (SQLite's can, and JSON may carry one as \\u0000): it becomes U+FFFD,
    so such a call is stored instead of failing, and being retried, forever."""
    if params is None:
        return None
    return {key: _clean_value(value) for key, value in params.items()}


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_clean_value(item) for item in value]
    return value


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:  # includes psycopg_pool's PoolTimeout and PoolClosed
        raise StorageError(f"postgresql: {exc.__class__.__name__}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    # A driver message can quote a statement's parameters on later lines; the first line names the failure.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else ""


class PostgresDatabase:
    """A pool of autocommit connections to one database, given as a libpq URL (`sslmode` etc. pass through)."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, pool_timeout: float = 5.0,
                 statement_timeout_ms: int = 15_000) -> None:
        try:
            params = conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(f"AGENTIC_MEMORY_DATABASE_URL is not a valid PostgreSQL URL: {exc}") from None
        self.statement_timeout_ms = statement_timeout_ms
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_SECS
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, timeout=pool_timeout,
                                   kwargs=kwargs, configure=self._configure,
                                   check=ConnectionPool.check_connection, open=True,
                                   name="agentic-memory")

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        # Session settings, so they hold whatever the URL's `options` say. A stuck lock or a forgotten
        # transaction must end in an error (a 503 / a retried job), never in a request that hangs.
        conn.execute(f"SET statement_timeout = {int(self.statement_timeout_ms)}")
        conn.execute(f"SET lock_timeout = {int(self.statement_timeout_ms)}")
        conn.execute(f"SET idle_in_transaction_session_timeout = {int(self.statement_timeout_ms) * 4}")
        conn.execute("SET timezone = 'UTC'")

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with translate_errors(), self.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with translate_errors(), self.pool.connection() as conn, conn.transaction():
            yield conn

    def fetchone(self, name: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
        with self.connection() as conn:
            return conn.execute(queries()[name], clean(params)).fetchone()

    def fetchall(self, name: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.connection() as conn:
            return conn.execute(queries()[name], clean(params)).fetchall()

    def execute(self, name: str, params: dict[str, Any] | None = None) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        with self.connection() as conn:
            return conn.execute(queries()[name], clean(params)).rowcount

    def migrate(self) -> list[int]:
        """Apply the missing migrations, each in its own transaction; returns the versions applied.

        The advisory lock serialises concurrent `migrate` runs (several processes starting at once): the
        second waits, then finds nothing left to do.
        """
        applied: list[int] = []
        with self.connection() as conn:
            conn.execute("SET statement_timeout = 0")  # a migration may rewrite a large table
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                             "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
                done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                for version, sql in migrations():
                    if version in done:
                        continue
                    with conn.transaction():
                        conn.execute(sql.encode())  # several statements: the simple query protocol
                        if version == TERMS_MIGRATION:
                            _fill_terms(conn)
                        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                    applied.append(version)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
                conn.execute(f"SET statement_timeout = {int(self.statement_timeout_ms)}")
        return applied

    def schema_version(self) -> int | None:
        """The highest applied migration, or None on a database `migrate` never ran on."""
        with self.connection() as conn:
            exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
            if not exists or not exists[0]:
                return None
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def check_schema(self) -> None:
        """Refuse to serve on a schema this code does not know: the server never migrates PostgreSQL itself."""
        version, latest = self.schema_version(), latest_version()
        if version is None:
            raise ConfigurationError("the PostgreSQL database has no AgenticMemory schema: run "
                                     "`agentic-memory migrate` (with the same AGENTIC_MEMORY_DATABASE_URL) first")
        if version < latest:
            raise ConfigurationError(f"the PostgreSQL schema is at version {version}, this code needs {latest}: "
                                     "run `agentic-memory migrate` first")
        if version > latest:
            raise ConfigurationError(f"the PostgreSQL schema is at version {version}, newer than this code "
                                     f"knows ({latest}): upgrade agentic-memory (or point it at another database)")

    def ping(self) -> None:
        with self.connection() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self.pool.close()
