"""Shared fixtures: real SQLite in tmp_path, the real embedding model, signed ElevenLabs payloads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import Deps, build
from agentic_memory.config import Settings
from agentic_memory.elevenlabs.signature import sign
from agentic_memory.http.app import create_app
from agentic_memory.worker import Worker
from tests import fs_guard

# Installed at import, before any test runs: the suite proves it reads nothing outside the checkout.
FS_GUARD = fs_guard.install()

WORKSPACE_KEY = "amk_test_workspace_key_0123456789abcdef"
HMAC_KEY = "wsec_test_hmac_key_0123456789abcdefghij"
# Real ElevenLabs payloads, copied into the repo (see the README beside them).
EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "elevenlabs"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"workspace_key": WORKSPACE_KEY, "hmac_key": HMAC_KEY, "data_dir": data_dir}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def _stays_inside_checkout() -> Iterator[None]:
    before = len(FS_GUARD.violations)
    yield
    outside = FS_GUARD.violations[before:]
    if outside:
        pytest.fail("the test touched paths outside the checkout:\n" + "\n".join(outside), pytrace=False)


def pytest_sessionfinish() -> None:
    fs_guard.remove_temp_root(FS_GUARD)


@pytest.fixture(scope="session")
def embedder() -> Any:
    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

    return OnnxEmbedder()


@pytest.fixture
def deps(tmp_path: Path, embedder: Any) -> Iterator[Deps]:
    built = build(make_settings(tmp_path / "data"), embedder=embedder, with_worker=False)
    yield built
    built.close()


@pytest.fixture
def client(deps: Deps) -> Iterator[TestClient]:
    with TestClient(create_app(deps), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def worker(deps: Deps) -> Worker:
    return deps.make_worker()


def drain(worker: Worker, limit: int = 1000) -> int:
    """Run queued jobs until none is ready; returns how many ran."""
    ran = 0
    while ran < limit and worker.run_once():
        ran += 1
    return ran


def auth() -> dict[str, str]:
    return {"X-Workspace-Key": WORKSPACE_KEY}


def post_signed(client: TestClient, payload: Any, *, secret: str = HMAC_KEY, timestamp: int | None = None) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post("/post-call", content=raw, headers={
        "ElevenLabs-Signature": sign(raw, secret, timestamp), "Content-Type": "application/json"})


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())
