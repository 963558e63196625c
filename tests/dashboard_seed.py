"""The calls the dashboard suites (e2e over TestClient, browser over a real server) look at: Liz's two calls
(her milk preference changes, the second with audio), Bob's one, and an undecodable audio webhook that
ends in the dead letters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agentic_memory.bootstrap import Deps
from agentic_memory.elevenlabs import builders
from tests.conftest import drain, post_signed

ANN, BOB = "+14155550142", "+14155550199"
MP3 = (Path(__file__).resolve().parent / "fixtures" / "tone.mp3").read_bytes()


def seed(client: Any, deps: Deps) -> None:
    """Posts the calls through `client` (a TestClient or an httpx.Client on a live server), then runs them."""
    now = int(time.time())
    for cid, caller, ago, turns in (
            ("conv_a1", ANN, 3 * 86400, [("user", "Hi, this is Liz. I prefer oat milk in my latte.")]),
            ("conv_a2", ANN, 3600, [("user", "Switch me to almond milk instead of oat, please.")]),
            ("conv_b1", BOB, 7200, [("user", "Hi, I'm Bob, I like green tea.")])):
        payload = builders.transcription(conversation_id=cid, caller=caller, turns=turns, start_time=now - ago)
        assert post_signed(client, payload).status_code == 200
    assert post_signed(client, builders.audio(conversation_id="conv_a2", mp3=MP3)).status_code == 200
    assert post_signed(client, {"type": "post_call_audio", "data": {"conversation_id": "conv_bad",
                                                                    "full_audio": "%%%"}}).status_code == 200
    drain(deps.make_worker())  # the undecodable audio goes straight to the dead letters
