"""`agentic-memory copy-to-mem0`: the local engine's memories into Mem0 (the fake API), resumable."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agentic_memory.bootstrap import build
from agentic_memory.cli import app as cli
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from agentic_memory.testing import HashEmbedder
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, auth, drain, make_settings, post_signed
from tests.fakes.mem0_api import API_KEY, FakeMem0, serve

ALICE, BOB = "+14155550111", "+14155550122"
ADD = ("POST", "/v3/memories/add/")


def _local_calls(data_dir: Path) -> int:
    deps = build(make_settings(data_dir), embedder=HashEmbedder(), with_worker=False)
    try:
        with TestClient(create_app(deps)) as client:
            for cid, caller, line in (("conv_a1", ALICE, "My order number is A-48213."),
                                      ("conv_a2", ALICE, "I prefer oat milk."),
                                      ("conv_b1", BOB, "My order number is Z-99999.")):
                turns = [("agent", "Hello, how can I help?"), ("user", line)]
                post_signed(client, builders.transcription(conversation_id=cid, caller=caller, turns=turns,
                                                           start_time=int(time.time()) - 100))
            drain(deps.make_worker())
        return deps.store.count_active_memories()  # type: ignore[attr-defined, no-any-return]  # SQLite-only export helper
    finally:
        deps.close()


def test_copy_to_mem0_sends_every_active_memory_once_and_resumes(tmp_path):
    data_dir = tmp_path / "data"
    total = _local_calls(data_dir)
    assert total >= 6
    with serve(FakeMem0(pending_polls=0)) as fake:
        env = {"ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
               "AGENTIC_MEMORY_DATA_DIR": str(data_dir), "MEM0_API_KEY": API_KEY,
               "AGENTIC_MEMORY_MEM0_HOST": fake.url}
        # The 4th request (ping, the first call's two adds, then its event poll) fails: the command stops
        # and says how to resume.
        fake.fail_next = [None, None, None, 503]
        stopped = CliRunner().invoke(cli, ["copy-to-mem0"], env=env)
        assert stopped.exit_code == 1, stopped.output
        assert "run the command again" in stopped.output.lower()
        result = CliRunner().invoke(cli, ["copy-to-mem0"], env=env)
        assert result.exit_code == 0, result.output
        assert f"{total} memories copied" in result.output
        again = CliRunner().invoke(cli, ["copy-to-mem0"], env=env)
        assert again.exit_code == 0
        assert len(fake.memories) == total  # nothing sent twice, across three runs
        assert fake.count(*ADD) == total  # the resumed run polled the first call's events, never re-added
        owners = {m["user_id"] for m in fake.memories.values()}
        assert owners == {ALICE, BOB}

        # The same data dir switched to the Mem0 engine answers from Mem0.
        settings = make_settings(data_dir, memory_engine="mem0", mem0_api_key=API_KEY, mem0_host=fake.url)
        deps = build(settings, with_worker=False)
        try:
            with TestClient(create_app(deps)) as client:
                response = client.post("/retrieve", json={"query": "order number", "user_id": ALICE},
                                       headers=auth())
                memories = response.json()["memories"]
                assert any("A-48213" in m["memory"] for m in memories)
                assert all(m["user_id"] == ALICE for m in memories)
                card = client.post("/client-data", json={"caller_id": ALICE}, headers=auth()).json()
                assert card["dynamic_variables"]["returning_caller"] == "yes"
        finally:
            deps.close()


def test_copy_to_mem0_needs_a_key(tmp_path):
    env = {"ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
           "AGENTIC_MEMORY_DATA_DIR": str(tmp_path / "data"), "MEM0_API_KEY": ""}
    result = CliRunner().invoke(cli, ["copy-to-mem0"], env=env)
    assert result.exit_code == 2
    assert "MEM0_API_KEY" in result.output
