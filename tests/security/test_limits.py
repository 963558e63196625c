"""Limits: body size per endpoint, JSON depth, field lengths, `limit` bounds, and ids that must not escape
the files folder."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import Deps, build
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from agentic_memory.testing import HashEmbedder
from tests.conftest import make_settings
from tests.security.conftest import auth_headers, signed_headers

POST_CALL_LIMIT = 2 * 1024 * 1024
REQUEST_LIMIT = 64 * 1024
CALLER = "+14155550123"


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Deps, TestClient]]:
    deps = build(make_settings(tmp_path / "data", max_post_call_bytes=POST_CALL_LIMIT,
                               max_request_bytes=REQUEST_LIMIT), embedder=HashEmbedder(), with_worker=False)
    with TestClient(create_app(deps), raise_server_exceptions=False) as client:
        yield deps, client
    deps.close()


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A body streamed without Content-Length (Transfer-Encoding: chunked), like ElevenLabs' audio."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


def _assert_413(response: Any, limit: int) -> None:
    assert response.status_code == 413
    assert response.json()["error"]
    assert response.json()["detail"]["max_bytes"] == limit


@pytest.mark.parametrize("path", ["/client-data", "/retrieve"])
def test_small_endpoints_refuse_bodies_over_their_limit_declared_or_streamed(small, path: str):
    _, client = small

    def body(size: int) -> bytes:  # a valid request padded with whitespace to exactly `size` bytes
        prefix = b'{"caller_id": "+14155550123", "query": "x", "user_id": "+14155550123"'
        return prefix + b" " * (size - len(prefix) - 1) + b"}"

    assert client.post(path, content=body(REQUEST_LIMIT), headers=auth_headers()).status_code == 200
    _assert_413(client.post(path, content=body(REQUEST_LIMIT + 1), headers=auth_headers()), REQUEST_LIMIT)
    _assert_413(client.post(path, content=_chunks(REQUEST_LIMIT + 1), headers=auth_headers()), REQUEST_LIMIT)
    _assert_413(client.post(path, content=_chunks(10 * REQUEST_LIMIT), headers=auth_headers()), REQUEST_LIMIT)


def test_post_call_takes_large_audio_but_not_more_than_its_own_limit(small):
    _, client = small
    audio = builders.audio(conversation_id="conv_big_audio", mp3=os.urandom(1024 * 1024))  # ~1.4 MB base64
    raw = json.dumps(audio).encode()
    assert REQUEST_LIMIT < len(raw) < POST_CALL_LIMIT
    assert client.post("/post-call", content=raw, headers=signed_headers(raw)).status_code == 200
    streamed = client.post("/post-call", content=iter([raw[i:i + 65536] for i in range(0, len(raw), 65536)]),
                           headers=signed_headers(raw))
    assert streamed.status_code == 200
    huge = json.dumps(builders.audio(conversation_id="conv_huge", mp3=os.urandom(POST_CALL_LIMIT))).encode()
    _assert_413(client.post("/post-call", content=huge, headers=signed_headers(huge)), POST_CALL_LIMIT)
    _assert_413(client.post("/post-call", content=_chunks(POST_CALL_LIMIT + 1), headers=signed_headers(huge)),
                POST_CALL_LIMIT)


def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"k": value}
    return value


def test_json_depth_is_bounded_everywhere(small):
    _, client = small
    for path in ("/client-data", "/retrieve"):
        for body in (b"[" * 30_000 + b"]" * 30_000, b"[" * 60_000, b'{"k":' * 5_000 + b"1" + b"}" * 5_000):
            response = client.post(path, content=body, headers=auth_headers())
            assert response.status_code == 400
            assert "error" in response.json()
    deep = builders.audio(conversation_id="conv_deep", mp3=b"x")
    deep["data"]["extra"] = _nested(70)
    raw = json.dumps(deep).encode()
    response = client.post("/post-call", content=raw, headers=signed_headers(raw))
    assert response.status_code == 400
    assert "error" in response.json()
    deep["data"]["extra"] = _nested(10)
    raw = json.dumps(deep).encode()
    assert client.post("/post-call", content=raw, headers=signed_headers(raw)).status_code == 200
    for raw in (b"[" * 100_000, b"[" * 50_000 + b"]" * 50_000):
        response = client.post("/post-call", content=raw, headers=signed_headers(raw))
        assert response.status_code == 400
        assert "error" in response.json()


@pytest.mark.parametrize(("path", "body"), [
    ("/client-data", {"caller_id": "+1" + "4" * 63}),
    ("/client-data", {"caller_id": CALLER, "agent_id": "a" * 257}),
    ("/client-data", {"caller_id": CALLER, "call_sid": "c" * 257}),
    ("/client-data", {"caller_id": CALLER, "called_number": "1" * 65}),
    ("/retrieve", {"query": "q" * 2001, "user_id": CALLER}),
    ("/retrieve", {"query": "", "user_id": CALLER}),
    ("/retrieve", {"query": "x", "user_id": "1" * 65}),
])
def test_field_lengths_are_bounded(small, path: str, body: dict[str, Any]):
    _, client = small
    response = client.post(path, json=body, headers=auth_headers())
    assert response.status_code == 400
    assert "error" in response.json()


def test_post_call_conversation_ids_are_bounded(small):
    _, client = small
    for cid, status in (("c" * 256, 200), ("c" * 257, 400), ("", 400), ("   ", 400), (None, 400), (7, 400)):
        raw = json.dumps(builders.audio(conversation_id=cid, mp3=b"x")).encode()  # type: ignore[arg-type]  # None and 7: wrong types on purpose
        assert client.post("/post-call", content=raw, headers=signed_headers(raw)).status_code == status, cid


@pytest.mark.parametrize(("limit", "status"), [
    (0, 400), (-1, 400), (51, 400), (10**30, 400), ("abc", 400), (None, 400), (1.5, 400), ([], 400),
    (1, 200), (50, 200)])
def test_retrieve_limit_bounds(small, limit: Any, status: int):
    _, client = small
    response = client.post("/retrieve", json={"query": "order", "user_id": CALLER, "limit": limit},
                           headers=auth_headers())
    assert response.status_code == status, response.text
    assert ("error" in response.json()) == (status == 400)


HOSTILE_IDS = ["../../etc/passwd", "../../../../../../tmp/owned", "a/b", "a/../../b", "..", ".", "/etc/passwd",
               "\x00", "conv\x00../../x", "C:\\Windows\\System32", "..\\..\\x", "~root", "%2e%2e%2f%2e%2e%2fx",
               ".hidden", "-rf", "con", "a\nb", "ü/../..", "x" * 256, "./" * 128, "…/…", "\u202e../"]


def test_hostile_conversation_ids_cannot_escape_the_files_folder(small, tmp_path: Path):
    deps, client = small
    now = int(time.time())
    for i, cid in enumerate(HOSTILE_IDS):
        bodies = [builders.transcription(conversation_id=cid, caller=f"+1415555{i:04d}", start_time=now - 60,
                                         turns=[("agent", "Hello"), ("user", "I prefer email.")]),
                  builders.audio(conversation_id=cid, mp3=builders.FAKE_MP3),
                  {"type": "call_initiation_failure", "data": {"conversation_id": cid, "failure_reason": "busy"}},
                  {"type": "../../../escaped", "data": {"conversation_id": cid}}]
        for body in bodies:
            raw = json.dumps(body).encode()
            assert client.post("/post-call", content=raw, headers=signed_headers(raw)).status_code == 200, cid
    worker = deps.make_worker()
    while worker.run_once():
        pass
    assert deps.queue.stats().pending == 0
    assert deps.queue.stats().dead == 0

    data_dir = deps.settings.data_dir.resolve()
    files_root = data_dir / "files"
    for path in tmp_path.rglob("*"):
        real = path.resolve()
        assert real.is_relative_to(data_dir), f"written outside the data dir: {path}"
        if path.is_file() and not real.is_relative_to(files_root):
            assert path.name.startswith("agentic_memory.sqlite3"), f"unexpected file: {path}"
    stored = [p for p in files_root.rglob("*") if p.is_file()]
    assert all(not p.is_symlink() for p in files_root.rglob("*"))
    for cid in HOSTILE_IDS:
        keys = deps.store.files(cid)
        assert {"payload", "transcript", "audio", "call_initiation_failure"} <= set(keys), cid
        for key in keys.values():
            assert (files_root / key).resolve().is_relative_to(files_root)
        assert deps.blobs.get(keys["audio"]) == builders.FAKE_MP3
    audio_paths = {(files_root / deps.store.files(cid)["audio"]).resolve() for cid in HOSTILE_IDS}
    assert len(audio_paths) == len(HOSTILE_IDS)  # distinct ids never share a folder
    assert len(stored) >= 4 * len(HOSTILE_IDS)
