"""The data set the operator command suites (admin CLI, copy) start from: Ann's two calls (her milk preference
changes; the first with audio), Bob's one and an undecodable webhook that ends in the dead letters, accepted
straight into the queue and processed; and the environment a CLI command in that data dir runs with."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agentic_memory.bootstrap import Deps
from agentic_memory.elevenlabs import builders
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, drain

ANN, BOB = "+14155550142", "+14155550199"


def seed_calls(deps: Deps, mp3: bytes) -> None:
    """Queue and process the three calls, Ann's first call's audio and one dead letter."""
    now = int(time.time())
    for cid, caller, text, ago in (("conv_a1", ANN, "Hi, this is Liz. I prefer oat milk in my latte.", 300),
                                   ("conv_a2", ANN, "Switch me to almond milk instead of oat, please.", 200),
                                   ("conv_b1", BOB, "Hi, I'm Bob, I like tea.", 100)):
        payload = builders.transcription(conversation_id=cid, caller=caller, turns=[("user", text)],
                                         start_time=now - ago)
        deps.queue.accept(event_type="post_call_transcription", conversation_id=cid,
                          body=json.dumps(payload).encode(), received_at=deps.clock.now()).result()
    deps.queue.accept(event_type="post_call_audio", conversation_id="conv_a1", received_at=deps.clock.now(),
                      body=json.dumps(builders.audio(conversation_id="conv_a1", mp3=mp3)).encode()).result()
    deps.queue.accept(event_type="post_call_transcription", conversation_id="conv_bad", body=b"{oops",
                      received_at=deps.clock.now()).result()
    drain(deps.make_worker())


def cli_env(monkeypatch: pytest.MonkeyPatch, data: Path, **extra: str) -> None:
    """Only the settings a CLI run in `data` needs (nothing left from the test's own environment), cwd beside it."""
    for name in [k for k in os.environ if k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ELEVENLABS_WORKSPACE_KEY", WORKSPACE_KEY)
    monkeypatch.setenv("ELEVENLABS_HMAC_KEY", HMAC_KEY)
    monkeypatch.setenv("AGENTIC_MEMORY_DATA_DIR", str(data))
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(data.parent)
