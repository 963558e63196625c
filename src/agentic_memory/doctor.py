"""`agentic-memory doctor`: is this installation fit to run? Each check says ok, warn or fail and why."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from agentic_memory.config import Settings, check_secret, ensure_keys, load_settings
from agentic_memory.errors import AgenticMemoryError, ConfigurationError

MIN_FREE_BYTES = 1 << 30  # below 1 GiB: audio and the WAL can fill it within a day of calls


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str


def _configuration() -> tuple[Settings | None, Check]:
    try:
        settings, _ = ensure_keys(load_settings(), create=False)
    except (ConfigurationError, ValueError) as exc:
        return None, Check("configuration", "fail", str(exc).splitlines()[0])
    return settings, Check("configuration", "ok", f"data dir {settings.data_dir.resolve()}")


def _keys(settings: Settings) -> Check:
    try:
        settings.validate_secrets()
        for key in settings.admin_keys:
            check_secret("AGENTIC_MEMORY_ADMIN_KEY", key)
    except ConfigurationError as exc:
        return Check("keys", "fail", str(exc))
    if not settings.admin_keys:
        return Check("keys", "warn", "no AGENTIC_MEMORY_ADMIN_KEY: the admin API is disabled")
    return Check("keys", "ok", "workspace, webhook and admin keys set, none a placeholder")


def _database(settings: Settings) -> Check:
    from agentic_memory.adapters.sqlite.database import _migrations

    path = settings.data_dir / "agentic_memory.sqlite3"
    if not path.exists():
        return Check("database", "fail", f"{path} does not exist yet (run `agentic-memory migrate` or serve)")
    latest = max(version for version, _ in _migrations())
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
            quick = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check("database", "fail", f"cannot read {path.name}: {exc}")
    if quick != "ok":
        return Check("database", "fail", f"quick_check: {quick}")
    if version < latest:
        return Check("database", "fail", f"schema version {version}, this version needs {latest}: run migrate")
    if version > latest:
        return Check("database", "fail", f"schema version {version} is newer than this version ({latest})")
    return Check("database", "ok", f"reachable, schema version {version}, quick_check ok")


def _model() -> Check:
    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

    try:
        vector = OnnxEmbedder().embed(["doctor"])
    except AgenticMemoryError as exc:
        return Check("model", "fail", str(exc))
    return Check("model", "ok", f"checksums match, embeds {vector.shape[1]} dimensions")


def _data_dir(settings: Settings) -> Check:
    root = settings.data_dir
    if not root.is_dir() or not os.access(root, os.W_OK):
        return Check("data dir", "fail", f"{root} is missing or not writable")
    probe = root / ".doctor-probe"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Check("data dir", "fail", f"cannot write in {root}: {exc.strerror}")
    free = shutil.disk_usage(root).free
    status = "ok" if free >= MIN_FREE_BYTES else "warn"
    return Check("data dir", status, f"writable, {free / (1 << 30):.1f} GiB free")


def _clock() -> Check:
    return Check("clock", "ok", "embedded SQLite: no database server to drift from")


def run_checks(settings: Settings | None = None, *, model: Callable[[], Check] = _model) -> list[Check]:
    """Every check; with `settings` (a running server's), the configuration is taken as loaded."""
    if settings is None:
        settings, config = _configuration()
        if settings is None:
            return [config]
    else:
        config = Check("configuration", "ok", f"data dir {settings.data_dir.resolve()}")
    return [config, _keys(settings), _database(settings), _data_dir(settings), model(), _clock()]


def report(checks: list[Check]) -> dict[str, object]:
    return {"ok": all(c.status != "fail" for c in checks),
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in checks]}
