"""The composition root: backends chosen from settings, clear errors for unknown ones, fakes-only Deps."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agentic_memory.bootstrap import build
from agentic_memory.cli import app as cli
from agentic_memory.errors import ConfigurationError
from agentic_memory.http.app import create_app
from agentic_memory.testing import HashEmbedder, in_memory_deps
from tests.conftest import make_settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _build(tmp_path, **overrides):
    return build(make_settings(tmp_path / "data", **overrides), embedder=HashEmbedder(), with_worker=False)


def test_defaults_put_the_database_and_files_under_the_data_dir(tmp_path):
    deps = _build(tmp_path)
    try:
        assert deps.queue.accept(event_type="t", conversation_id="c1", body=b"x", received_at=T0).result(5)
        deps.blobs.put("calls/c1/x.json", b"{}")
    finally:
        deps.close()
    assert (tmp_path / "data" / "agentic_memory.sqlite3").is_file()
    assert (tmp_path / "data" / "files" / "calls" / "c1" / "x.json").read_bytes() == b"{}"


def test_urls_move_the_database_and_the_files(tmp_path):
    db_path, files = tmp_path / "elsewhere" / "db.sqlite3", tmp_path / "blobs"
    db_path.parent.mkdir()
    deps = _build(tmp_path, database_url=f"sqlite:///{db_path}", blob_url=f"file://{files}")
    try:
        deps.blobs.put("calls/c1/x.json", b"{}")
    finally:
        deps.close()
    assert db_path.is_file()
    assert (files / "calls" / "c1" / "x.json").is_file()
    assert not (tmp_path / "data" / "agentic_memory.sqlite3").exists()


@pytest.mark.parametrize(("field", "value", "setting"), [
    ("database_url", "postgresql://user:hunter2hunter2@db/x?not_a_libpq_param=1", "AGENTIC_MEMORY_DATABASE_URL"),
    ("database_url", "mysql://db/x", "AGENTIC_MEMORY_DATABASE_URL"),
    ("database_url", "sqlite://host/x", "AGENTIC_MEMORY_DATABASE_URL"),
    ("blob_url", "s3:///no-bucket", "AGENTIC_MEMORY_BLOB_URL"),
    ("blob_url", "s3://bucket/prefix?sse=none", "AGENTIC_MEMORY_BLOB_URL"),
    ("blob_url", "gs://bucket/prefix", "AGENTIC_MEMORY_BLOB_URL"),
    ("blob_url", "file://remote-host/x", "AGENTIC_MEMORY_BLOB_URL"),
    ("queue_url", "sqs://queue", "AGENTIC_MEMORY_QUEUE_URL"),  # bodies need s3:// blobs
    ("queue_url", "redis://queue", "AGENTIC_MEMORY_QUEUE_URL"),
    ("memory_engine", "zep", "AGENTIC_MEMORY_MEMORY_ENGINE"),
    ("memory_engine", "mem0", "MEM0_API_KEY"),  # chosen without its key
])
def test_unknown_backends_are_a_configuration_error_naming_the_setting(tmp_path, field, value, setting):
    with pytest.raises(ConfigurationError, match=setting) as caught:
        _build(tmp_path, **{field: value})
    assert "hunter2" not in str(caught.value)


def test_cli_migrate_builds_the_configured_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env file here
    target = tmp_path / "migrated.sqlite3"
    result = CliRunner().invoke(cli, ["migrate"], env={"AGENTIC_MEMORY_DATABASE_URL": f"sqlite:///{target}",
                                                      "AGENTIC_MEMORY_DATA_DIR": str(tmp_path / "unused")})
    assert result.exit_code == 0, result.output
    assert target.is_file()
    assert not (tmp_path / "unused").exists()
    bad = CliRunner().invoke(cli, ["migrate"], env={"AGENTIC_MEMORY_DATABASE_URL": "oracle://x"})
    assert bad.exit_code == 2
    assert "AGENTIC_MEMORY_DATABASE_URL" in bad.output


def test_deps_can_be_built_from_the_fakes_alone():
    deps = in_memory_deps()
    with TestClient(create_app(deps)) as client:
        assert client.get("/health").json()["status"] == "ok"


def test_cli_migrate_says_when_the_database_does_not_answer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env file here
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(cli, ["migrate"], env={
        "AGENTIC_MEMORY_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{port}/none",
        "AGENTIC_MEMORY_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 3
    assert "Database unavailable" in result.output


def test_the_proxy_gets_the_int8_query_model_only_when_it_is_on_and_the_model_is_the_packaged_one(tmp_path):
    settings = make_settings(tmp_path / "data", upstream_url="http://127.0.0.1:9/v1")
    deps = build(settings, with_worker=False, lazy_embedder=True)
    try:
        query_model = deps.engine.query_embedder
        assert query_model is not None
        assert query_model.embed(["What is my order number?"]).shape == (1, 384)
        # The query went to the int8 copy: the fp32 model (memories, /retrieve) is still not loaded.
        assert query_model.inner.loaded
        assert not deps.embedder.inner.loaded
    finally:
        deps.close()
    for deps in (build(make_settings(tmp_path / "off"), with_worker=False, lazy_embedder=True),
                 _build(tmp_path / "fake", upstream_url="http://127.0.0.1:9/v1")):
        try:
            assert deps.engine.query_embedder is None
        finally:
            deps.close()
