"""The one composition root: Settings -> adapters -> Deps. Every entrypoint builds through here.

Backends are chosen from four settings, each defaulting to the embedded backend under the data dir:

    AGENTIC_MEMORY_DATABASE_URL   sqlite:///relative/path or sqlite:////absolute/path   (memory store + queue)
    AGENTIC_MEMORY_BLOB_URL       file:///absolute/path                                 (call files)
    AGENTIC_MEMORY_QUEUE_URL      empty: the database's own queue
    AGENTIC_MEMORY_MEMORY_ENGINE  local: rule facts + the packaged ONNX model + the database's search;
                                  mem0: the same facts and chunks kept in Mem0 Cloud (MEM0_API_KEY ...)

An optional backend's driver is imported here and nowhere else, inside the branch that chooses it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from agentic_memory.config import Settings
from agentic_memory.errors import ConfigurationError
from agentic_memory.metrics import Metrics, TimedEmbedder
from agentic_memory.ports import (
    AdminStore,
    AudioSource,
    BackupArchives,
    BlobStore,
    Clock,
    Embedder,
    JobQueue,
    MemoryEngine,
    MemoryStore,
    RecordStore,
)

if TYPE_CHECKING:  # imported where used: a Lambda cold start that only greets never loads the worker's stack
    from agentic_memory.adapters.mem0.engine import Mem0MemoryEngine
    from agentic_memory.domain.facts import FactExtractor
    from agentic_memory.services.admin import AdminDeps
    from agentic_memory.services.bulk import CopyReport
    from agentic_memory.services.process_call import WorkerDeps
    from agentic_memory.worker import Worker

log = logging.getLogger(__name__)
DATABASE_FILE = "agentic_memory.sqlite3"
FILES_DIR = "files"
MEMORY_ENGINES = ("local", "mem0")


@dataclass
class Deps:
    settings: Settings
    store: MemoryStore
    queue: JobQueue
    blobs: BlobStore
    embedder: Embedder | None  # the local engine's model; None when another engine needs none
    clock: Clock
    worker: Worker | None = None
    audio: AudioSource | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    admin: AdminStore | None = None  # the operator's side, where the backend has one
    backups: BackupArchives | None = None
    metrics: Metrics = field(default_factory=Metrics)
    engine: MemoryEngine = None  # type: ignore[assignment]  # set in __post_init__: the local engine unless given
    query_embedder: Embedder | None = None  # the local engine's model for the memory proxy's queries, if any

    def __post_init__(self) -> None:
        if cast("MemoryEngine | None", self.engine) is None:
            if self.embedder is None:
                raise ConfigurationError("the local memory engine needs an embedder")
            self.engine = local_engine(self.store, self.embedder, query_embedder=self.query_embedder)

    def admin_deps(self) -> AdminDeps:
        from agentic_memory.services.admin import AdminDeps

        if self.admin is None:
            raise ConfigurationError("this backend has no admin store")
        return AdminDeps(admin=self.admin, store=self.store, blobs=self.blobs, embedder=self.embedder,
                         clock=self.clock, ref_secret=self.settings.caller_ref_secret,
                         default_region=self.settings.default_region, backups=self.backups, engine=self.engine)

    def worker_deps(self) -> WorkerDeps:
        from agentic_memory.services.process_call import WorkerDeps

        return WorkerDeps(store=self.store, blobs=self.blobs, engine=self.engine,
                          extractor=self._extractor(), clock=self.clock,
                          default_region=self.settings.default_region, scope=self.settings.scope,
                          audio=self.audio)

    def _extractor(self) -> FactExtractor:
        from agentic_memory.domain.facts import RuleFactExtractor

        rules = RuleFactExtractor()
        url, model = self.settings.llm_url, self.settings.llm_model.strip()
        if not url and not model:
            return rules  # the default: offline, no LLM
        if not url or not model:
            raise ConfigurationError("the LLM extractor needs both AGENTIC_MEMORY_LLM_URL and AGENTIC_MEMORY_LLM_MODEL")
        from agentic_memory.adapters.llm_extractor import LlmFactExtractor

        key = self.settings.llm_api_key.get_secret_value().strip() if self.settings.llm_api_key else ""
        extractor = LlmFactExtractor(url, model, key, fallback=rules, timeout_secs=self.settings.llm_timeout_secs)
        self.closers.append(extractor.close)
        return extractor

    def make_worker(self) -> Worker:
        from agentic_memory.services.retention import Sweeper, policy_from
        from agentic_memory.worker import Worker

        sweeper = Sweeper(self.admin_deps(), policy_from(self.settings)) if self.admin is not None else None
        return Worker(self.queue, self.worker_deps(), max_attempts=self.settings.max_attempts,
                      lease_secs=self.settings.lease_secs, idle_wait=self.settings.poll_secs,
                      metrics=self.metrics, sweeper=sweeper)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.closers.clear()


@dataclass(frozen=True)
class Database:
    """What a database backend provides: the memory store, its own job queue, migrate and close."""

    store: MemoryStore
    queue: JobQueue
    migrate: Callable[[], None]
    close: Callable[[], None]
    # What a server or worker runs before it serves: SQLite migrates itself (one command to `make run`);
    # PostgreSQL only checks, since `agentic-memory migrate` owns its schema and refuses an unknown one.
    prepare: Callable[[], None] | None = None
    admin: AdminStore | None = None
    backups: BackupArchives | None = None
    records: RecordStore | None = None  # every row as plain records (`agentic-memory copy`)


# PostgreSQL has its own backup tools; `agentic-memory backup`/`restore` archive the SQLite file.
NO_BACKUP_ON_POSTGRES = ("the database is PostgreSQL: `agentic-memory backup` and `restore` handle the embedded "
                         "SQLite database only; back PostgreSQL up with pg_dump (or your provider's snapshots) "
                         "and the files under AGENTIC_MEMORY_BLOB_URL with your storage's tools")


def uses_postgres(settings: Settings) -> bool:
    scheme = settings.database_url.get_secret_value().strip().partition("://")[0].lower()
    return scheme in ("postgresql", "postgres")


def open_database(settings: Settings, clock: Clock) -> Database:
    """The backend AGENTIC_MEMORY_DATABASE_URL names (not migrated: call `.migrate()`)."""
    url = settings.database_url.get_secret_value().strip()
    if not url:
        return _sqlite(settings.data_dir / DATABASE_FILE, clock)
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite":
        # SQLAlchemy's convention: three slashes then a relative path, four for an absolute one.
        if not rest.startswith("/") or len(rest) < 2:
            raise ConfigurationError("AGENTIC_MEMORY_DATABASE_URL: a SQLite URL has no host; use "
                                     "sqlite:///relative/path or sqlite:////absolute/path")
        return _sqlite(Path(unquote(rest[1:])), clock)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url, settings, clock)
    # The URL is never echoed: it may carry a password.
    raise ConfigurationError(f"AGENTIC_MEMORY_DATABASE_URL: unsupported scheme {scheme!r} "
                             "(expected sqlite:///path or postgresql://...)")


def _sqlite(path: Path, clock: Clock) -> Database:
    from agentic_memory.adapters.sqlite.admin_store import SqliteAdminStore
    from agentic_memory.adapters.sqlite.backup import SqliteBackups
    from agentic_memory.adapters.sqlite.database import Database as SqliteDatabase
    from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore
    from agentic_memory.adapters.sqlite.queue import SqliteJobQueue
    from agentic_memory.adapters.sqlite.records import SqliteRecords

    db = SqliteDatabase(path)
    queue = SqliteJobQueue(db, clock)

    def close() -> None:
        queue.close()
        db.close()

    return Database(store=SqliteMemoryStore(db, clock), queue=queue, migrate=db.migrate, close=close,
                    admin=SqliteAdminStore(db), backups=SqliteBackups(db), records=SqliteRecords(db))


def _postgres(url: str, settings: Settings, clock: Clock) -> Database:
    try:
        from agentic_memory.adapters.postgres.admin_store import PostgresAdminStore
        from agentic_memory.adapters.postgres.database import PostgresDatabase
        from agentic_memory.adapters.postgres.memory_store import PostgresMemoryStore
        from agentic_memory.adapters.postgres.queue import PostgresJobQueue
        from agentic_memory.adapters.postgres.records import PostgresRecords
    except ImportError as exc:
        raise ConfigurationError("AGENTIC_MEMORY_DATABASE_URL names PostgreSQL, whose driver is not installed: "
                                 "pip install 'agentic-memory[postgres]'") from exc

    db = PostgresDatabase(url, max_size=settings.database_pool_size,
                          pool_timeout=settings.database_timeout_secs,
                          statement_timeout_ms=settings.database_statement_timeout_ms)
    queue = PostgresJobQueue(db, clock, ack_threads=min(8, settings.database_pool_size))

    def close() -> None:
        queue.close()
        db.close()

    def migrate() -> None:
        db.migrate()

    # No BackupArchives: backups of PostgreSQL are pg_dump's, out of an erasure's reach (docs/security.md).
    return Database(store=PostgresMemoryStore(db, clock), queue=queue, migrate=migrate, close=close,
                    prepare=db.check_schema, admin=PostgresAdminStore(db), records=PostgresRecords(db))


def open_blobs(settings: Settings) -> BlobStore:
    """The blob store AGENTIC_MEMORY_BLOB_URL names."""
    from agentic_memory.adapters.blobs.filesystem import FilesystemBlobStore

    url = settings.blob_url.strip()
    if not url:
        return FilesystemBlobStore(settings.data_dir / FILES_DIR)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigurationError("AGENTIC_MEMORY_BLOB_URL: use file:///absolute/path")
        return FilesystemBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return _s3(settings, parts)
    raise ConfigurationError(f"AGENTIC_MEMORY_BLOB_URL: unsupported scheme {parts.scheme!r} "
                             "(expected file:///path or s3://bucket/prefix)")


def _aws_client(settings: Settings, service: str) -> Any:
    """The client, made on its first call (a greeting on Lambda needs neither S3 nor SQS)."""
    try:
        from agentic_memory.adapters.aws.clients import LazyClient
    except ImportError as exc:
        raise ConfigurationError("an s3:// or sqs:// URL needs boto3: pip install 'agentic-memory[aws]'") from exc
    return LazyClient(service, endpoint_url=settings.aws_endpoint_url.strip())


def _s3(settings: Settings, parts: SplitResult) -> BlobStore:
    if not parts.netloc:
        raise ConfigurationError("AGENTIC_MEMORY_BLOB_URL: use s3://bucket/prefix")
    query = parse_qs(parts.query)
    sse = query.get("sse", ["AES256"])[0]
    if sse not in ("AES256", "aws:kms"):
        raise ConfigurationError("AGENTIC_MEMORY_BLOB_URL: sse must be AES256 or aws:kms")
    s3 = _aws_client(settings, "s3")
    from agentic_memory.adapters.aws.s3_blobs import S3BlobStore

    return S3BlobStore(s3, parts.netloc, unquote(parts.path), sse=sse,
                       kms_key_id=query.get("kms_key_id", [""])[0])


def _queue(settings: Settings, database: Database, blobs: BlobStore) -> JobQueue:
    url = settings.queue_url.strip()
    if not url:
        return database.queue
    parts = urlsplit(url)
    if parts.scheme != "sqs":
        raise ConfigurationError(f"AGENTIC_MEMORY_QUEUE_URL: unsupported scheme {parts.scheme!r} "
                                 "(expected sqs://queue-name, or empty for the database's own queue)")
    if not urlsplit(settings.blob_url.strip()).scheme == "s3":
        raise ConfigurationError("AGENTIC_MEMORY_QUEUE_URL=sqs://... keeps webhook bodies in S3: set "
                                 "AGENTIC_MEMORY_BLOB_URL=s3://bucket/prefix too")
    if not parts.netloc:
        raise ConfigurationError("AGENTIC_MEMORY_QUEUE_URL: use sqs://queue-name")
    sqs = _aws_client(settings, "sqs")
    from agentic_memory.adapters.aws.s3_blobs import S3BlobStore
    from agentic_memory.adapters.aws.sqs_queue import SqsJobQueue

    if not isinstance(blobs, S3BlobStore):  # open_blobs chose it from the same s3:// URL
        raise ConfigurationError("AGENTIC_MEMORY_QUEUE_URL=sqs://... needs the S3 blob store")
    return SqsJobQueue(sqs, "", blobs, queue_name=parts.netloc)  # its URL is looked up on first use


def _check_engine(settings: Settings) -> str:
    engine = settings.memory_engine.strip().lower()
    if engine not in MEMORY_ENGINES:
        raise ConfigurationError(f"AGENTIC_MEMORY_MEMORY_ENGINE: unknown engine {settings.memory_engine!r} "
                                 f"(expected one of: {', '.join(MEMORY_ENGINES)})")
    if engine == "mem0" and not (settings.mem0_api_key and settings.mem0_api_key.get_secret_value().strip()):
        raise ConfigurationError("AGENTIC_MEMORY_MEMORY_ENGINE=mem0 needs MEM0_API_KEY")
    return engine


def open_mem0(settings: Settings, blobs: BlobStore, *,
              import_now: bool = True) -> tuple[Mem0MemoryEngine, Callable[[], None]]:
    """Mem0 Cloud as the memory engine. Its client is built on first use (which pings Mem0), never here: a
    Mem0 outage must not stop the server from answering /client-data. The SDK module is imported now
    (`import_now`, no network) except in a Lambda container that may only greet."""
    from functools import partial

    from agentic_memory.adapters.mem0 import sdk
    from agentic_memory.adapters.mem0.cloud import Mem0Cloud
    from agentic_memory.adapters.mem0.engine import Mem0MemoryEngine

    if import_now:
        sdk.load(settings.data_dir)
    key = settings.mem0_api_key.get_secret_value().strip() if settings.mem0_api_key else ""
    cloud = Mem0Cloud(partial(sdk.connect, api_key=key, data_dir=settings.data_dir, host=settings.mem0_host,
                              timeout_secs=settings.mem0_timeout_secs, org_id=settings.mem0_org_id.strip(),
                              project_id=settings.mem0_project_id.strip()))
    return Mem0MemoryEngine(cloud, blobs, infer=settings.mem0_infer), cloud.close


def copy_to_mem0(settings: Settings, *, on_total: Callable[[int], None] = lambda _: None,
                 on_copied: Callable[[int], None] = lambda _: None) -> int:
    """`agentic-memory copy-to-mem0`: the local store's active memories into Mem0 (infer=False), resumable."""
    from agentic_memory.adapters.mem0.copy import copy_memories
    from agentic_memory.clock import SystemClock

    settings.validate_secrets()
    if not (settings.mem0_api_key and settings.mem0_api_key.get_secret_value().strip()):
        raise ConfigurationError("copy-to-mem0 needs MEM0_API_KEY")
    database = open_database(settings, SystemClock())
    export = getattr(database.store, "active_memories", None)
    count = getattr(database.store, "count_active_memories", None)
    if export is None or count is None:
        database.close()
        raise ConfigurationError("copy-to-mem0 reads the local engine's SQLite database only")
    blobs = open_blobs(settings)
    engine, close_engine = open_mem0(settings, blobs)
    try:
        on_total(count())
        engine.infer = False  # memories are copied as they are, never re-extracted
        return copy_memories(export(), engine, on_copied=on_copied)
    finally:
        close_engine()
        database.close()


def local_engine(store: MemoryStore, embedder: Embedder, *, query_embedder: Embedder | None = None) -> MemoryEngine:
    from agentic_memory.adapters.local_engine import LocalMemoryEngine

    return LocalMemoryEngine(store, embedder, query_embedder=query_embedder)


def _local_embedder(settings: Settings, *, lazy: bool = False) -> Embedder:
    from agentic_memory.adapters.embeddings import MINILM_DIM
    from agentic_memory.adapters.embeddings.lazy import LazyEmbedder

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def load() -> Embedder:
        from agentic_memory.adapters.embeddings.batching import BatchingEmbedder
        from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

        # One session on every core (unless set): a lone query uses them all, concurrent batches share its pool.
        return BatchingEmbedder(OnnxEmbedder(threads=settings.embed_threads or cores))

    # Lazy: a Lambda container that only greets callers (/client-data) never loads the model.
    return LazyEmbedder(load, dim=MINILM_DIM) if lazy else load()


def _query_embedder(*, lazy: bool = False) -> Embedder:
    """The memory proxy's query model: the int8 copy of the packaged model on one core, run inline on the
    proxy's recall thread. Half the CPU of the shared all-core batcher for one utterance, and its vectors
    rank the fp32-embedded memories as well (bench/PERF_NOTES.md, items 55-59)."""
    from agentic_memory.adapters.embeddings import MINILM_DIM
    from agentic_memory.adapters.embeddings.lazy import LazyEmbedder

    def load() -> Embedder:
        from agentic_memory.adapters.embeddings.onnx import QUERY_MODEL_DIR, OnnxEmbedder

        return OnnxEmbedder(QUERY_MODEL_DIR, threads=1)

    return LazyEmbedder(load, dim=MINILM_DIM) if lazy else load()


def _audio(settings: Settings) -> AudioSource | None:
    if not settings.fetch_audio:
        return None
    if settings.elevenlabs_api_key is None or not settings.elevenlabs_api_key.get_secret_value().strip():
        raise ConfigurationError("AGENTIC_MEMORY_FETCH_AUDIO=true needs ELEVENLABS_API_KEY")
    from agentic_memory.adapters.elevenlabs_audio import ElevenLabsAudio

    return ElevenLabsAudio(settings.elevenlabs_api_url, settings.elevenlabs_api_key.get_secret_value().strip())


def migrate(settings: Settings) -> None:
    """Create or upgrade the schema of the configured database (`agentic-memory migrate`)."""
    from agentic_memory.clock import SystemClock

    database = open_database(settings, SystemClock())
    try:
        database.migrate()
    finally:
        database.close()


def copy_database(settings: Settings, source_url: str, target_url: str, *,
                  progress: Callable[[str, int, int], None] | None = None) -> CopyReport:
    """`agentic-memory copy`: every row of one database into another (services/bulk.py), the target
    migrated first. Either may be SQLite or PostgreSQL; the URLs are never echoed (passwords)."""
    from pydantic import SecretStr

    from agentic_memory.clock import SystemClock
    from agentic_memory.services.bulk import copy_database as copy_rows

    if source_url.strip() == target_url.strip():
        raise ConfigurationError("copy: --from and --to name the same database")
    clock = SystemClock()
    opened: list[Database] = []
    try:
        for url in (source_url, target_url):
            opened.append(open_database(settings.model_copy(update={"database_url": SecretStr(url)}), clock))
        source, target = opened
        (source.prepare or source.migrate)()
        target.migrate()
        if source.records is None or target.records is None:  # every backend has them; a guard for new ones
            raise ConfigurationError("copy: this backend cannot list its rows")
        return copy_rows(source.records, target.records, progress=progress)
    finally:
        for database in opened:
            database.close()


def build(settings: Settings, *, embedder: Embedder | None = None, with_worker: bool = True,
          clock: Clock | None = None, lazy_embedder: bool = False) -> Deps:
    """Settings -> adapters -> Deps, the database migrated. `embedder` and `clock` replace the real ones;
    `lazy_embedder` loads the model on the first embedding instead of now."""
    from agentic_memory.clock import SystemClock

    settings.validate_secrets()
    engine_name = _check_engine(settings)
    blobs = open_blobs(settings)
    clock = clock or SystemClock()
    if not settings.database_url.get_secret_value().strip():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_database(settings, clock)
    try:
        (database.prepare or database.migrate)()
        queue = _queue(settings, database, blobs)
        query_embedder: Embedder | None = None
        if engine_name == "local":
            # Mem0 embeds on its side: no model loaded. The proxy's query model only with the packaged one.
            if embedder is None and settings.upstream_url:
                query_embedder = _query_embedder(lazy=lazy_embedder)
            embedder = embedder or _local_embedder(settings, lazy=lazy_embedder)
    except BaseException:
        database.close()
        raise
    closers = [database.close]
    engine: MemoryEngine | None = None  # Deps makes the local engine from the store and the embedder
    if engine_name == "mem0":
        try:
            engine, close_engine = open_mem0(settings, blobs, import_now=not lazy_embedder)
        except BaseException:
            database.close()
            raise
        closers.append(close_engine)
    metrics = Metrics()
    deps = Deps(settings=settings, store=database.store, queue=queue, blobs=blobs,
                embedder=None if embedder is None else TimedEmbedder(embedder, metrics), clock=clock,
                audio=_audio(settings), closers=closers, admin=database.admin, backups=database.backups,
                metrics=metrics, engine=engine,  # type: ignore[arg-type]  # None: Deps builds the local engine
                query_embedder=None if query_embedder is None else TimedEmbedder(query_embedder, metrics))
    if queue is not database.queue:
        deps.closers.append(getattr(queue, "close", lambda: None))
    if with_worker:
        deps.worker = deps.make_worker()
    if not settings.retrieve_auth:
        log.warning("AUTH DISABLED for /retrieve (AGENTIC_MEMORY_RETRIEVE_AUTH=false): anyone who can reach "
                    "this server can read any caller's memories")
    return deps
