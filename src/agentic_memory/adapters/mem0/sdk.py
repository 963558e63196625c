"""Building the mem0ai SDK's MemoryClient, with its side effects kept under our data dir.

On first import mem0ai creates `$MEM0_DIR/config.json` (default `~/.mem0`, read-only on Lambda) and reads
`MEM0_TELEMETRY` once (PostHog, on by default). Both are set here before that import, and this module is
the only place the SDK is imported from outside an error handler; bootstrap.py calls `connect` lazily, on
the engine's first use, so a Mem0 outage never stops the server from starting.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import httpx

from agentic_memory.errors import EngineUnavailable

DEFAULT_HOST = "https://api.mem0.ai"


def prepare_environment(data_dir: Path) -> None:
    """Point mem0ai's local dir under the data dir and turn its telemetry off. Call before importing mem0."""
    os.environ["MEM0_DIR"] = str((data_dir / "mem0").resolve())
    os.environ["MEM0_TELEMETRY"] = "false"
    # The SDK logs every HTTP error with its URL, and httpx logs every request's URL at INFO: a
    # delete_all URL carries the caller's phone number. Our adapter logs its own errors without it.
    logging.getLogger("mem0").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def load(data_dir: Path) -> None:
    """Import the SDK now (no network): a long-lived server pays its import (about a second) at start-up,
    not inside the first /health probe or in-call search, whose timeouts are shorter than that."""
    prepare_environment(data_dir)
    import mem0.client.main  # type: ignore[import-untyped]  # noqa: F401 - imported for its side effect: loaded


def connect(*, api_key: str, data_dir: Path, host: str = DEFAULT_HOST, timeout_secs: float = 10.0,
            org_id: str = "", project_id: str = "") -> Any:
    """A MemoryClient whose constructor has pinged Mem0 (`GET /v1/ping/`) with `api_key`.

    Raises EngineUnavailable when Mem0 cannot be reached, refuses the key, or the key belongs to another
    organisation or project than MEM0_ORG_ID / MEM0_PROJECT_ID say (so /retrieve answers 503 naming the
    setting in the log, and the worker's jobs wait, instead of a 500).
    """
    prepare_environment(data_dir)
    from mem0.client.main import MemoryClient  # the SDK ships no hints (its type: ignore is on load())

    # Our own httpx client: the SDK's default timeout is 300 s, far too long for an in-call search.
    http = httpx.Client(timeout=httpx.Timeout(timeout_secs))
    try:
        client = MemoryClient(api_key=api_key, host=host, client=http)
    except ValueError as exc:  # the SDK's ping got an error answer (its only way of saying so)
        http.close()
        raise EngineUnavailable(f"mem0 ping refused: {_detail(exc)}") from exc
    except httpx.HTTPError as exc:
        http.close()
        raise EngineUnavailable(f"mem0 unreachable: {exc.__class__.__name__}") from exc
    for name, wanted, actual in (("MEM0_ORG_ID", org_id, client.org_id),
                                 ("MEM0_PROJECT_ID", project_id, client.project_id)):
        if wanted and actual and wanted != actual:
            http.close()
            raise EngineUnavailable(f"{name} does not match the organisation/project of MEM0_API_KEY")
    return client


def _detail(exc: ValueError) -> str:
    text = str(exc)
    return text[:200] if "Token" not in text else "authentication failed"
