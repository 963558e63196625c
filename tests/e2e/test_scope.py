"""AGENTIC_MEMORY_SCOPE: one memory per caller, or one per (agent, caller); isolation checked on both."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import build
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from tests.conftest import auth, drain, make_settings, post_signed

ANN = "+14155550142"
ADMIN = {"X-Admin-Key": "amadm_scope_admin_key_0123456789abcdef"}
DENTAL, CAFE = "agent_dental_0001", "agent_cafe_0002"


def run_calls(client: TestClient, deps: Any) -> None:
    now = int(time.time())
    for cid, agent, text in (("conv_d1", DENTAL, "Hi, I'm Ann. My next cleaning is on Friday and I fear the drill."),
                             ("conv_c1", CAFE, "Hi, I'm Annie. I prefer oat milk in my flat white.")):
        payload = builders.transcription(conversation_id=cid, caller=ANN, turns=[("user", text)], agent_id=agent,
                                         start_time=now - 100)
        assert post_signed(client, payload).status_code == 200
    drain(deps.make_worker())


def recall(client: TestClient, agent: str | None, query: str) -> list[str]:
    body: dict[str, Any] = {"query": query, "user_id": ANN}
    if agent is not None:
        body["agent_id"] = agent
    response = client.post("/retrieve", json=body, headers=auth())
    assert response.status_code == 200, response.text
    assert all(m["user_id"] == ANN for m in response.json()["memories"])  # never the internal key
    return [m["memory"] for m in response.json()["memories"]]


@pytest.fixture
def scoped(tmp_path: Path, embedder: Any, request: pytest.FixtureRequest) -> Any:
    deps = build(make_settings(tmp_path / "data", scope=request.param, admin_key=ADMIN["X-Admin-Key"]),
                 embedder=embedder, with_worker=False)
    with TestClient(create_app(deps)) as client:
        run_calls(client, deps)
        yield client, deps
    deps.close()


@pytest.mark.parametrize("scoped", ["caller"], indirect=True)
def test_caller_scope_shares_memories_across_agents(scoped):
    client, _ = scoped
    assert any("oat milk" in t for t in recall(client, DENTAL, "what milk do I like"))
    assert any("drill" in t for t in recall(client, None, "dentist cleaning"))
    card = client.post("/client-data", json={"caller_id": ANN, "agent_id": DENTAL}, headers=auth()).json()
    assert card["dynamic_variables"]["returning_caller"] == "yes"


@pytest.mark.parametrize("scoped", ["agent_and_caller"], indirect=True)
def test_agent_and_caller_scope_keeps_each_agents_memories_apart(scoped):
    client, _ = scoped
    dental = recall(client, DENTAL, "what milk do I like cleaning drill")
    cafe = recall(client, CAFE, "what milk do I like cleaning drill")
    assert any("drill" in t for t in dental) and not any("oat" in t for t in dental)
    assert any("oat" in t for t in cafe) and not any("drill" in t for t in cafe)
    assert recall(client, "agent_other_0003", "milk drill") == []
    assert client.post("/retrieve", json={"query": "x", "user_id": ANN}, headers=auth()).status_code == 400
    cards = {agent: client.post("/client-data", json={"caller_id": ANN, "agent_id": agent}, headers=auth()).json()
             for agent in (DENTAL, CAFE, "agent_other_0003")}
    assert cards[DENTAL]["dynamic_variables"]["caller_name"] == "Ann"
    assert cards[CAFE]["dynamic_variables"]["caller_name"] == "Annie"
    assert cards["agent_other_0003"]["dynamic_variables"]["returning_caller"] == "no"
    assert cards[DENTAL]["dynamic_variables"]["caller_id"] == ANN and cards[DENTAL]["user_id"] == ANN

    listed = client.get("/admin/callers", params={"q": ANN}, headers=ADMIN).json()["callers"]
    assert sorted(c["agent_id"] for c in listed) == [CAFE, DENTAL] and {c["number"] for c in listed} == {ANN}
    assert client.get("/admin/caller", params={"number": ANN}, headers=ADMIN).status_code == 400  # which agent?
    shown = client.get("/admin/caller", params={"number": ANN, "agent_id": CAFE}, headers=ADMIN).json()
    assert shown["caller"]["first_name"] == "Annie"
    exported = client.get("/admin/caller/export", params={"number": ANN}, headers=ADMIN).json()
    assert len(exported["other_agents"]) == 1
    receipt = client.post("/admin/caller/erase", json={"number": ANN}, headers=ADMIN).json()
    assert receipt["counts"]["profile"] == 2 and receipt["counts"]["conversations"] == 2
    assert recall(client, DENTAL, "drill") == [] and recall(client, CAFE, "oat milk") == []
