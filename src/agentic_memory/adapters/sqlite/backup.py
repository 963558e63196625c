"""Backup and restore of the embedded default: one .tar.gz holding an online SQLite backup and the files.

The database is copied with SQLite's online backup API (consistent while the server runs and writes);
the files are write-once, so copying them after the database is safe (a file newer than the snapshot is
just unreferenced). Each archive's path is recorded in the database it came from, so that erasing a
caller later rewrites the archives too (`SqliteBackups.rewrite`): a restore never brings them back.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentic_memory.adapters.sqlite.database import Database, translate_errors
from agentic_memory.errors import InvalidInput, StorageError
from agentic_memory.ports import AdminStore, BlobStore, MemoryStore

DB_NAME = "agentic_memory.sqlite3"
FORMAT = "agentic-memory-backup/1"


def create_backup(data_dir: Path, out: Path, *, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write `out` (.tar.gz) from the live data dir; returns its manifest."""
    db_path = data_dir / DB_NAME
    out = out.resolve()
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        snapshot = Path(tmp) / DB_NAME
        with translate_errors():
            source = sqlite3.connect(db_path, isolation_level=None, timeout=30)
            target = sqlite3.connect(snapshot)
            try:
                source.backup(target, pages=1024,
                             progress=(lambda _s, left, total: progress(total - left, total)) if progress else None)
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no WAL beside it
            finally:
                target.close()
            source.execute("INSERT OR REPLACE INTO backups (path, created_at) VALUES (?, ?)",
                           (str(out), datetime.now(UTC).timestamp()))
            source.close()
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
                    "database_bytes": snapshot.stat().st_size}
        _pack(Path(tmp), data_dir / "files", manifest, out)
    return {**manifest, "path": str(out)}


def _pack(db_dir: Path, files: Path, manifest: dict[str, Any], out: Path) -> None:
    """Write the archive next to `out` and rename it into place (never a half-written backup)."""
    fd, partial = tempfile.mkstemp(dir=out.parent, prefix=".backup-", suffix=".tar.gz")
    os.close(fd)
    try:
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            with tempfile.TemporaryFile() as handle:
                handle.write(data)
                handle.seek(0)
                tar.addfile(info, handle)
            tar.add(db_dir / DB_NAME, arcname=DB_NAME)
            if files.is_dir():
                tar.add(files, arcname="files")
        os.chmod(partial, 0o600)
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


@contextmanager
def _unpacked(archive: Path) -> Iterator[Path]:
    """The archive extracted into a temporary data dir (safe members only)."""
    if not archive.is_file():
        raise InvalidInput(f"no backup at {archive}")
    with tempfile.TemporaryDirectory(dir=archive.parent) as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")  # refuses absolute paths, `..` and links out of the folder
        except (tarfile.TarError, OSError) as exc:
            raise InvalidInput(f"not a readable backup: {exc.__class__.__name__}") from exc
        root = Path(tmp)
        try:
            manifest = json.loads((root / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput("not an agentic-memory backup (no manifest)") from exc
        if manifest.get("format") != FORMAT or not (root / DB_NAME).is_file():
            raise InvalidInput("not an agentic-memory backup (unknown format)")
        yield root


def restore_backup(archive: Path, data_dir: Path) -> dict[str, Any]:
    """Replace the data dir's database and files with the archive's (keys.json is kept). Stop the server first."""
    with _unpacked(archive.resolve()) as root:
        db = Database(root / DB_NAME)
        try:
            if db.integrity_check() != "ok":
                raise InvalidInput("the backup's database fails its integrity check")
            db.migrate()  # an older backup is brought up to this version's schema
        finally:
            db.close()
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                (data_dir / (DB_NAME + suffix)).unlink(missing_ok=True)
            shutil.move(root / DB_NAME, data_dir / DB_NAME)
            shutil.rmtree(data_dir / "files", ignore_errors=True)
            if (root / "files").is_dir():
                shutil.move(root / "files", data_dir / "files")
        except OSError as exc:
            raise StorageError(f"could not restore into {data_dir}: {exc.strerror}") from exc
        manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text())
    return manifest


class SqliteBackups:
    """The archives recorded in the live database, rewritten in place by `rewrite` (used by erasure)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def paths(self) -> list[Path]:
        with translate_errors():
            rows = self.db.connection().execute("SELECT path FROM backups ORDER BY created_at").fetchall()
        return [Path(row[0]) for row in rows if Path(row[0]).is_file()]

    def stores(self) -> Iterator[tuple[AdminStore, MemoryStore, BlobStore]]:
        """Each archive opened as stores; what the consumer changes is compacted and packed back in place
        (atomically) before the next one is opened."""
        from agentic_memory.adapters.blobs.filesystem import FilesystemBlobStore
        from agentic_memory.adapters.sqlite.admin_store import SqliteAdminStore
        from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore

        for archive in self.paths():
            with _unpacked(archive) as root:
                db = Database(root / DB_NAME)
                try:
                    db.migrate()
                    admin = SqliteAdminStore(db)
                    yield admin, SqliteMemoryStore(db), FilesystemBlobStore(root / "files")
                    admin.compact()
                    with translate_errors():
                        db.connection().execute("PRAGMA journal_mode=DELETE")
                finally:
                    db.close()
                manifest = json.loads((root / "manifest.json").read_text())
                manifest["rewritten_at"] = datetime.now(UTC).isoformat()
                _pack(root, root / "files", manifest, archive)
