"""Nobody gets in who shouldn't: every endpoint but /health is authenticated by default."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import build
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from agentic_memory.testing import HashEmbedder
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, make_settings
from tests.security.conftest import signed_headers

PUBLIC = {("/health", "get")}
BODIES = {"/client-data": {"caller_id": "+14155550123"}, "/retrieve": {"query": "order", "user_id": "+14155550123"}}
ROTATED = "amk_next_workspace_key_abcdefghijklmnop"


def _operations(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return [(path, method) for path, item in schema["paths"].items() for method in item]


def test_every_endpoint_but_health_rejects_anonymous_requests(fast_client: TestClient):
    operations = _operations(fast_client)
    assert {("/client-data", "post"), ("/retrieve", "post"), ("/post-call", "post"), ("/health", "get")} <= set(
        operations)
    for path, method in operations:
        body = BODIES.get(path, {"type": "post_call_audio", "data": {"conversation_id": "c", "full_audio": "AAAA"}})
        response = fast_client.request(method, path, json=body)
        if (path, method) in PUBLIC:
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (path, method)
        assert response.json()["error"]


@pytest.mark.parametrize("headers", [
    {}, {"X-Workspace-Key": ""}, {"X-Workspace-Key": WORKSPACE_KEY[:-1]}, {"X-Workspace-Key": WORKSPACE_KEY + "x"},
    {"X-Workspace-Key": WORKSPACE_KEY.upper()}, {"X-Workspace-Key": f"{WORKSPACE_KEY},{ROTATED}"},
    {"X-Workspace-Key": HMAC_KEY}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
    {"Authorization": f"Basic {WORKSPACE_KEY}"}, {"Authorization": WORKSPACE_KEY},
    {"Authorization": f"Token {WORKSPACE_KEY}"}, {"X-Api-Key": WORKSPACE_KEY},
    {"X-Workspace-Key": "é" * 30}])
@pytest.mark.parametrize("path", ["/client-data", "/retrieve"])
def test_wrong_keys_are_refused(fast_client: TestClient, path: str, headers: dict[str, str]):
    encoded = {k: v.encode() for k, v in headers.items()}
    response = fast_client.post(path, json=BODIES[path], headers=encoded)
    assert response.status_code == 401
    assert response.json()["error"]
    # Nor does a key in the query string count.
    assert fast_client.post(f"{path}?key={WORKSPACE_KEY}", json=BODIES[path]).status_code == 401


def test_workspace_key_is_not_a_webhook_secret(fast_client: TestClient):
    raw = json.dumps(builders.audio(conversation_id="conv_auth", mp3=b"x")).encode()
    response = fast_client.post("/post-call", content=raw,
                                headers={**signed_headers(raw, secret=WORKSPACE_KEY), "X-Workspace-Key": WORKSPACE_KEY})
    assert response.status_code == 401


def test_several_keys_are_accepted_at_once_for_rotation(tmp_path: Path):
    deps = build(make_settings(tmp_path, workspace_key=f" {WORKSPACE_KEY} , {ROTATED} ",
                               hmac_key=f"wsec_next_hmac_secret_abcdefghijkl,{HMAC_KEY}"),
                 embedder=HashEmbedder(), with_worker=False)
    with TestClient(create_app(deps), raise_server_exceptions=False) as client:
        for key in (WORKSPACE_KEY, ROTATED):
            for headers in ({"X-Workspace-Key": key}, {"Authorization": f"Bearer {key}"},
                            {"authorization": f"bearer {key}"}):
                for path, body in BODIES.items():
                    assert client.post(path, json=body, headers=headers).status_code == 200, (path, headers)
        for i, secret in enumerate((HMAC_KEY, "wsec_next_hmac_secret_abcdefghijkl")):
            raw = json.dumps(builders.audio(conversation_id=f"conv_rot_{i}", mp3=b"x")).encode()
            assert client.post("/post-call", content=raw, headers=signed_headers(raw, secret=secret)).status_code == 200
        assert client.post("/client-data", json=BODIES["/client-data"],
                           headers={"X-Workspace-Key": "amk_retired_key_0123456789abcdef"}).status_code == 401
    deps.close()


def _startup_warnings(caplog: pytest.LogCaptureFixture, tmp_path: Path, **overrides: object) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        deps = build(make_settings(tmp_path, **overrides), embedder=HashEmbedder(), with_worker=False)
    deps.close()
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_retrieve_auth_off_is_explicit_and_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    assert _startup_warnings(caplog, tmp_path / "on") == []
    assert len(_startup_warnings(caplog, tmp_path / "off", retrieve_auth=False)) >= 1
    deps = build(make_settings(tmp_path / "off2", retrieve_auth=False), embedder=HashEmbedder(), with_worker=False)
    with TestClient(create_app(deps), raise_server_exceptions=False) as client:
        assert client.post("/retrieve", json=BODIES["/retrieve"]).status_code == 200
        assert client.post("/client-data", json=BODIES["/client-data"]).status_code == 401  # only /retrieve opens
        raw = json.dumps(builders.audio(conversation_id="conv_open", mp3=b"x")).encode()
        assert client.post("/post-call", content=raw).status_code == 401
    deps.close()


def test_retrieve_auth_setting_parses_like_an_operator_writes_it():
    from agentic_memory.config import load_settings

    base = {"ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY}
    assert load_settings(base, env_file=None).retrieve_auth is True  # on unless said otherwise
    for value in ("false", "False", "0", "no", "off"):
        assert load_settings({**base, "AGENTIC_MEMORY_RETRIEVE_AUTH": value}, env_file=None).retrieve_auth is False
    with pytest.raises(ValueError, match="AGENTIC_MEMORY_RETRIEVE_AUTH"):
        load_settings({**base, "AGENTIC_MEMORY_RETRIEVE_AUTH": "maybe"}, env_file=None)


@pytest.mark.parametrize("value", ["changeme", "your-key-here", "short_key_123", "aaaaaaaaaaaaaaaaaaaa",
                                   f"{WORKSPACE_KEY},changeme"])
def test_placeholder_or_weak_keys_are_refused_at_startup(tmp_path: Path, value: str):
    from agentic_memory.errors import ConfigurationError

    for field in ("workspace_key", "hmac_key"):
        with pytest.raises(ConfigurationError):
            build(make_settings(tmp_path, **{field: value}), embedder=HashEmbedder(), with_worker=False)
