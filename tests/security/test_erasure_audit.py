"""Erasure checked as an auditor would: after `callers erase`, read every byte of the data dir (database,
WAL, -shm, files, keys) and the logs, and look for the number in every format, the name and phrases
only that caller said. A positive control shows the same scan finds them before erasure."""

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
from agentic_memory.bootstrap import build
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
        first = builders.transcription(
            conversation_id="conv_zeb_1", caller=NUMBER, start_time=now - 900, summary="Zebediah ordered quokka marmalade.",
            turns=[("agent", "Hello, how can I help?"),
                   ("user", "Hi, this is Zebediah Thistlewood. I'd like the quokka marmalade again."),
                   ("user", "I'm a professional Xylophonist, call me back on 415-555-0168.")],
            data={"caller_name": "Zebediah Thistlewood"})
        second = builders.transcription(
            conversation_id="conv_zeb_2", caller=NUMBER, start_time=now - 600,
            turns=[("user", "Zebediah again. I prefer the velociraptor cake instead of marmalade now.")])
        other = builders.transcription(conversation_id="conv_other_1", caller=OTHER, start_time=now - 300,
                                       turns=[("user", f"Hi, I'm Bo, I love {OTHER_PHRASE}.")])
        for payload in (first, second, other):
            assert post_signed(client, payload).status_code == 200
        assert post_signed(client, builders.audio(conversation_id="conv_zeb_1", mp3=b"ID3 Zebediah audio")
                           ).status_code == 200
        drain(worker)
        client.post("/client-data", json={"caller_id": NUMBER}, headers=auth())
        client.post("/retrieve", json={"query": "quokka", "user_id": NUMBER}, headers=auth())
        unprocessed = builders.transcription(conversation_id="conv_zeb_3", caller=NUMBER, start_time=now - 60,
                                             turns=[("user", "Zebediah here, one more velociraptor please.")])
        assert post_signed(client, unprocessed).status_code == 200  # queued, not processed yet

        (data / "backups").mkdir()
        create_backup(data, data / "backups" / "nightly.tar.gz")
        before = scan(data, logs.getvalue(), SECRETS)
        assert {"+14155550168", "Zebediah", "quokka marmalade", "velociraptor"} <= set(before)  # positive control
        assert any(name.endswith(("-wal", ".sqlite3")) for name in before["Zebediah"])
        assert any(name.startswith("nightly.tar.gz:") for name in before["quokka marmalade"])

        receipt = client.post("/admin/caller/erase", json={"number": "(415) 555-0168"}, headers=ADMIN)
        assert receipt.status_code == 200
        counts = receipt.json()["counts"]
        assert counts["profile"] == 1 and counts["conversations"] == 2 and counts["unprocessed_webhooks"] == 1
        assert counts["files"] >= 5 and counts["memories"] >= 3 and counts["backups"] == 1
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
