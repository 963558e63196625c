"""Greeting control over HTTP: the settings reach /client-data's first-message override."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from agentic_memory.bootstrap import build
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from tests.conftest import auth, drain, make_settings, post_signed


def first_message(tmp_path: Path, embedder: Any, **settings: Any) -> object:
    deps = build(make_settings(tmp_path / "data", **settings), embedder=embedder, with_worker=False)
    try:
        with TestClient(create_app(deps)) as client:
            post_signed(client, builders.transcription(conversation_id="conv_g1", caller="+14155550123",
                                                       turns=[("user", "Hi, this is Ann.")],
                                                       start_time=int(time.time()) - 60))
            drain(deps.make_worker())
            body = client.post("/client-data", json={"caller_id": "+14155550123"}, headers=auth()).json()
            return body["conversation_config_override"]["agent"].get("first_message")
    finally:
        deps.close()


def test_first_message_switch_and_template(tmp_path, embedder):
    assert first_message(tmp_path / "a", embedder) == "Hello Ann! Welcome back. How can I help you today?"
    assert first_message(tmp_path / "b", embedder, first_message=False) is None
    assert first_message(tmp_path / "c", embedder, first_message_templates={"en": "Recorded line. Hi {name}!"}) == (
        "Recorded line. Hi Ann!")
