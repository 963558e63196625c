"""Shared fixtures: real SQLite in tmp_path, a real PostgreSQL server, the real embedding model, signed
ElevenLabs payloads."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import prometheus_client  # noqa: F401 - see below
import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import Deps, build, migrate
from agentic_memory.config import Settings
from agentic_memory.elevenlabs.signature import sign
from agentic_memory.http.app import create_app
from agentic_memory.worker import Worker
from tests import fs_guard
from tests.aws_server import AwsServer
from tests.postgres_server import PostgresServer

# Installed at import, before any test runs: the suite proves it reads nothing outside the checkout.
# prometheus-client is imported above, before any test: its import reads /proc (boot time, the process's
# limits) for its default registry, and agentic_memory.metrics imports it only on first use.
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


_DATABASES = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole run (started only by tests that ask for it)."""
    server = PostgresServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def aws_server() -> Iterator[AwsServer]:
    """One local AWS API (moto server on 127.0.0.1) for the whole run, started only by tests that ask."""
    server = AwsServer().start()
    yield server
    server.close()


def create_database(server: PostgresServer, *, template: str = "template0") -> str:
    """A new empty (or copied) database on `server`; returns its URL."""
    import psycopg

    name = f"am_test_{next(_DATABASES)}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return server.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A migrated database that each test's database is copied from (a copy is faster than migrating)."""
    from agentic_memory.adapters.postgres.database import PostgresDatabase

    url = create_database(pg_server)
    db = PostgresDatabase(url)
    db.migrate()
    db.close()
    return url.rsplit("/", 1)[1]


def drop_database(server: PostgresServer, url: str) -> None:
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture
def pg_empty_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh PostgreSQL database that `migrate` never ran on."""
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


@pytest.fixture
def pg_url(pg_server: PostgresServer, pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test (dropped after it: each copy is ~8 MB of files)."""
    url = create_database(pg_server, template=pg_template)
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="session")
def embedder() -> Any:
    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

    return OnnxEmbedder()


@contextmanager
def built_deps(settings: Settings, **kwargs: Any) -> Iterator[Deps]:
    """Deps from `settings` (no worker thread: tests run jobs with `drain`), closed after."""
    deps = build(settings, with_worker=False, **kwargs)
    try:
        yield deps
    finally:
        deps.close()


@contextmanager
def backend_deps(request: pytest.FixtureRequest, tmp_path: Path, embedder: Any, **overrides: Any) -> Iterator[Deps]:
    """Migrated Deps on the database `request.param` names: "sqlite" in tmp_path, or "postgres" (a fresh one)."""
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    settings = make_settings(tmp_path / "data", **overrides)
    migrate(settings)
    with built_deps(settings, embedder=embedder) as deps:
        yield deps


def app_client(deps: Deps) -> TestClient:
    """The app over `deps`, answering 500 instead of raising, as a real server does."""
    return TestClient(create_app(deps), raise_server_exceptions=False)


@pytest.fixture
def deps(tmp_path: Path, embedder: Any) -> Iterator[Deps]:
    with built_deps(make_settings(tmp_path / "data"), embedder=embedder) as built:
        yield built


@pytest.fixture
def client(deps: Deps) -> Iterator[TestClient]:
    """A test module that overrides `deps` gets this client (and `worker`) over its own Deps."""
    with app_client(deps) as test_client:
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
