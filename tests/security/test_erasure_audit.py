"""Erasure checked as an auditor would: after `callers erase`, read every byte of the data dir (database,
WAL, -shm, files, keys) and the logs, and look for the number in every format, the name and phrases
only that caller said. A positive control shows the same scan finds them before erasure. On PostgreSQL,
the same needles are looked for in every row of every table (what a query can read; see docs/security.md)."""

from __future__ import annotations

import io
import logging
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentic_memory.adapters.sqlite.backup import create_backup
from agentic_memory.bootstrap import build, migrate
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from agentic_memory.logs import JsonFormatter
from tests.conftest import auth, drain, make_settings, post_signed

ADMIN = {"X-Admin-Key": "amadm_audit_admin_key_0123456789abcdef"}
NUMBER = "+14155550168"
FORMATS = ("+14155550168", "14155550168", "4155550168", "415-555-0168", "(415) 555-0168", "415 555 0168",
           "415.555.0168", "555-0168", "5550168")
SECRETS = (*FORMATS, "Zebediah", "quokka marmalade", "Xylophonist", "velociraptor", "Thistlewood")
OTHER = "+14155550177"
OTHER_PHRASE = "kumquat sorbet"


def scan(root: Path, logs: str, needles: tuple[str, ...]) -> dict[str, list[str]]:
    """Every needle -> where it appears (file names under root, or "logs"), case-insensitive, UTF-8 bytes."""
    hits: dict[str, list[str]] = {}
    blobs = {str(p.relative_to(root)): p.read_bytes().lower() for p in root.rglob("*") if p.is_file()}
    for archive in root.rglob("*.tar.gz"):  # a backup is read the way an auditor would: unpacked
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                handle = tar.extractfile(member)
                if handle is not None:
                    blobs[f"{archive.name}:{member.name}"] = handle.read().lower()
    blobs["logs"] = logs.lower().encode()
    for needle in needles:
        where = [name for name, data in blobs.items() if needle.lower().encode() in data]
        if where:
            hits[needle] = where
    return hits


def first_call(now: int) -> dict[str, Any]:
    """The erased caller's first call: their name, number and phrases only they said."""
    return builders.transcription(
        conversation_id="conv_zeb_1", caller=NUMBER, start_time=now - 900,
        summary="Zebediah ordered quokka marmalade.",
        turns=[("agent", "Hello, how can I help?"),
               ("user", "Hi, this is Zebediah Thistlewood. I'd like the quokka marmalade again."),
               ("user", "I'm a professional Xylophonist, call me back on 415-555-0168.")],
        data={"caller_name": "Zebediah Thistlewood"})


def other_call(now: int) -> dict[str, Any]:
    """Another caller's call, which erasure must keep."""
    return builders.transcription(conversation_id="conv_other_1", caller=OTHER, start_time=now - 300,
                                  turns=[("user", f"Hi, I'm Bo, I love {OTHER_PHRASE}.")])


def last_call(now: int) -> dict[str, Any]:
    """The erased caller's last call, still queued when the erasure comes."""
    return builders.transcription(conversation_id="conv_zeb_3", caller=NUMBER, start_time=now - 60,
                                  turns=[("user", "Zebediah here, one more velociraptor please.")])


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_erased_caller_leaves_no_trace_in_database_files_or_logs(tmp_path: Path, embedder: Any, logs: io.StringIO):
    data = tmp_path / "data"
    deps = build(make_settings(data, admin_key=ADMIN["X-Admin-Key"]), embedder=embedder, with_worker=False)
    worker = deps.make_worker()
    now = int(time.time())
    with TestClient(create_app(deps)) as client:
        first = first_call(now)
        second = builders.transcription(
            conversation_id="conv_zeb_2", caller=NUMBER, start_time=now - 600,
            turns=[("user", "Zebediah again. I prefer the velociraptor cake instead of marmalade now.")])
        other = other_call(now)
        for payload in (first, second, other):
            assert post_signed(client, payload).status_code == 200
        assert post_signed(client, builders.audio(conversation_id="conv_zeb_1", mp3=b"ID3 Zebediah audio")
                           ).status_code == 200
        drain(worker)
        client.post("/client-data", json={"caller_id": NUMBER}, headers=auth())
        client.post("/retrieve", json={"query": "quokka", "user_id": NUMBER}, headers=auth())
        assert post_signed(client, last_call(now)).status_code == 200  # queued, not processed yet

        (data / "backups").mkdir()
        create_backup(data, data / "backups" / "nightly.tar.gz")
        before = scan(data, logs.getvalue(), SECRETS)
        assert {"+14155550168", "Zebediah", "quokka marmalade", "velociraptor"} <= set(before)  # positive control
        assert any(name.endswith(("-wal", ".sqlite3")) for name in before["Zebediah"])
        assert any(name.startswith("nightly.tar.gz:") for name in before["quokka marmalade"])

        receipt = client.post("/admin/caller/erase", json={"number": "(415) 555-0168"}, headers=ADMIN)
        assert receipt.status_code == 200
        counts = receipt.json()["counts"]
        assert counts["profile"] == 1
        assert counts["conversations"] == 2
        assert counts["unprocessed_webhooks"] == 1
        assert counts["files"] >= 5
        assert counts["memories"] >= 3
        assert counts["backups"] == 1
        assert "4155550168" not in receipt.text

        assert scan(data, logs.getvalue(), SECRETS) == {}
        kept = scan(data, "", (OTHER_PHRASE,))[OTHER_PHRASE]  # the other caller's call is untouched, backup too
        assert any(name.startswith("nightly.tar.gz:") for name in kept)
        found = client.post("/retrieve", json={"query": "kumquat", "user_id": OTHER}, headers=auth()).json()
        assert any(OTHER_PHRASE in m["memory"] for m in found["memories"])
        gone = client.post("/client-data", json={"caller_id": NUMBER}, headers=auth()).json()
        assert gone["dynamic_variables"]["returning_caller"] == "no"
        assert post_signed(client, first).status_code == 200  # ElevenLabs retrying: stays a no-op
        assert drain(worker) == 0
    deps.close()
    assert scan(data, logs.getvalue(), SECRETS) == {}


def table_rows(url: str) -> dict[str, bytes]:
    """Every row of every table of the public schema, each value as an auditor's query would read it
    (text as text, bytea as its bytes), lower-cased: table name -> all its rows' bytes."""
    import psycopg

    found: dict[str, bytes] = {}
    with psycopg.connect(url) as conn:
        conn.execute("SET timezone = 'UTC'")  # as the app's pool does: no zoneinfo file is read
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        for table in tables:
            parts: list[bytes] = []
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - table names come from the catalog
                for value in row:
                    parts.append(bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode())
            found[table] = b"\n".join(parts).lower()
    return found


def scan_tables(url: str, needles: tuple[str, ...]) -> dict[str, list[str]]:
    rows = table_rows(url)
    return {needle: where for needle in needles
            if (where := [t for t, data in rows.items() if needle.lower().encode() in data])}


def test_erased_caller_leaves_no_row_in_any_postgresql_table(tmp_path: Path, embedder: Any, logs: io.StringIO,
                                                             pg_url: str):
    data = tmp_path / "data"
    settings = make_settings(data, admin_key=ADMIN["X-Admin-Key"], database_url=pg_url)
    migrate(settings)
    deps = build(settings, embedder=embedder, with_worker=False)
    worker = deps.make_worker()
    now = int(time.time())
    with TestClient(create_app(deps)) as client:
        first = first_call(now)
        other = other_call(now)
        for payload in (first, other):
            assert post_signed(client, payload).status_code == 200
        drain(worker)
        assert post_signed(client, last_call(now)).status_code == 200  # queued, not processed yet
        before = scan_tables(pg_url, SECRETS)
        assert {"callers", "memories", "job_bodies"} <= set(before["+14155550168"])  # positive control
        assert {"memories", "job_bodies"} <= set(before["quokka marmalade"])

        receipt = client.post("/admin/caller/erase", json={"number": "(415) 555-0168"}, headers=ADMIN)
        assert receipt.status_code == 200
        counts = receipt.json()["counts"]
        assert (counts["profile"], counts["conversations"], counts["unprocessed_webhooks"]) == (1, 1, 1)
        assert counts["backups"] == 0

        assert scan_tables(pg_url, SECRETS) == {}
        assert scan(data, logs.getvalue(), SECRETS) == {}  # the files under the data dir, and the logs
        assert "memories" in scan_tables(pg_url, (OTHER_PHRASE,))[OTHER_PHRASE]  # the other caller is kept
        assert post_signed(client, first).status_code == 200  # ElevenLabs retrying: stays a no-op
        assert drain(worker) == 0
    deps.close()
