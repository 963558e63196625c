"""The one composition root: Settings -> adapters -> Deps. Every entrypoint builds through here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agentic_memory.config import Settings
from agentic_memory.errors import ConfigurationError
from agentic_memory.metrics import Metrics, TimedEmbedder
from agentic_memory.ports import AdminStore, BackupArchives, BlobStore, Clock, Embedder, JobQueue, MemoryStore
from agentic_memory.services.admin import AdminDeps
from agentic_memory.services.process_call import WorkerDeps
from agentic_memory.worker import Worker

log = logging.getLogger(__name__)


@dataclass
class Deps:
    settings: Settings
    store: MemoryStore
    queue: JobQueue
    blobs: BlobStore
    embedder: Embedder
    clock: Clock
    worker: Worker | None = None
    closers: list[object] = field(default_factory=list)
    admin: AdminStore | None = None
    backups: BackupArchives | None = None
    metrics: Metrics = field(default_factory=Metrics)

    def admin_deps(self) -> AdminDeps:
        if self.admin is None:
            raise ConfigurationError("this backend has no admin store")
        return AdminDeps(admin=self.admin, store=self.store, blobs=self.blobs, embedder=self.embedder,
                         clock=self.clock, ref_secret=self.settings.caller_ref_secret,
                         default_region=self.settings.default_region, backups=self.backups)

    def worker_deps(self) -> WorkerDeps:
        from agentic_memory.domain.facts import RuleFactExtractor

        return WorkerDeps(store=self.store, blobs=self.blobs, embedder=self.embedder,
                          extractor=RuleFactExtractor(), clock=self.clock,
                          default_region=self.settings.default_region)

    def make_worker(self) -> Worker:
        from agentic_memory.services.retention import Sweeper, policy_from

        sweeper = Sweeper(self.admin_deps(), policy_from(self.settings)) if self.admin is not None else None
        return Worker(self.queue, self.worker_deps(), max_attempts=self.settings.max_attempts,
                      lease_secs=self.settings.lease_secs, metrics=self.metrics, sweeper=sweeper)

    def close(self) -> None:
        for closer in self.closers:
            close = getattr(closer, "close", None)
            if close is not None:
                close()


def build(settings: Settings, *, embedder: Embedder | None = None, with_worker: bool = True) -> Deps:
    """Embedded default: SQLite + files under the data dir + the packaged ONNX model."""
    from agentic_memory.adapters.blobs.filesystem import FilesystemBlobStore
    from agentic_memory.adapters.sqlite.admin_store import SqliteAdminStore
    from agentic_memory.adapters.sqlite.backup import SqliteBackups
    from agentic_memory.adapters.sqlite.database import Database
    from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore
    from agentic_memory.adapters.sqlite.queue import SqliteJobQueue
    from agentic_memory.clock import SystemClock

    settings.validate_secrets()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.data_dir / "agentic_memory.sqlite3")
    db.migrate()
    if embedder is None:
        from agentic_memory.adapters.embeddings.batching import BatchingEmbedder
        from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

        embedder = BatchingEmbedder(OnnxEmbedder(threads=settings.embed_threads))
    metrics = Metrics()
    deps = Deps(settings=settings, store=SqliteMemoryStore(db), queue=SqliteJobQueue(db),
                blobs=FilesystemBlobStore(settings.data_dir / "files"), embedder=TimedEmbedder(embedder, metrics),
                clock=SystemClock(), closers=[db], admin=SqliteAdminStore(db), backups=SqliteBackups(db),
                metrics=metrics)
    if with_worker:
        deps.worker = deps.make_worker()
    if not settings.retrieve_auth:
        log.warning("AUTH DISABLED for /retrieve (AGENTIC_MEMORY_RETRIEVE_AUTH=false): anyone who can reach "
                    "this server can read any caller's memories")
    return deps
