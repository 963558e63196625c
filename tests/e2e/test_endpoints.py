"""The HTTP contract, end to end over a real database (SQLite and PostgreSQL) and the real embedding model."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from agentic_memory.adapters.embeddings.batching import BatchingEmbedder
from agentic_memory.bootstrap import local_engine
from agentic_memory.elevenlabs import builders
from agentic_memory.http.schemas import RetrieveResponse
from tests.conftest import HMAC_KEY, app_client, auth, drain, example, post_signed
from tests.e2e.conftest import inbox_body_sizes


def test_health_needs_no_auth_and_reports_the_queue(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["queue"] == {"pending": 0, "dead": 0}


def test_new_caller_gets_a_neutral_greeting_and_all_variables(client):
    response = client.post("/client-data", json=example("init_webhook_request.json"), headers=auth())
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "conversation_initiation_client_data"
    variables = body["dynamic_variables"]
    assert set(variables) >= {"caller_id", "memory_count", "memory_summary", "returning_caller", "caller_name",
                              "caller_context", "last_call_summary"}
    assert all(isinstance(v, str) for v in variables.values())
    assert variables["caller_id"] == "+14155550123"
    assert variables["returning_caller"] == "no"
    assert variables["memory_count"] == "0"
    assert "prompt" not in body["conversation_config_override"]["agent"]
    assert body["conversation_config_override"]["agent"]["first_message"]


def test_client_data_accepts_bearer_and_rejects_missing_or_wrong_keys(client):
    body = {"caller_id": "(415) 555-0123"}
    assert client.post("/client-data", json=body).status_code == 401
    assert client.post("/client-data", json=body, headers={"X-Workspace-Key": "wrong" * 8}).status_code == 401
    ok = client.post("/client-data", json=body, headers={"Authorization": f"Bearer {auth()['X-Workspace-Key']}"})
    assert ok.status_code == 200
    assert ok.json()["dynamic_variables"]["caller_id"] == "+14155550123"


def test_withheld_caller_ids_get_a_neutral_200_and_malformed_requests_a_400(client, worker):
    post_signed(client, builders.transcription(conversation_id="conv_named", caller="+14155550123",
                                               turns=[("user", "Hi, I'm Ann, I prefer oat milk.")],
                                               start_time=int(time.time()) - 60))
    drain(worker)
    for body in ({}, {"caller_id": ""}, {"caller_id": None}, {"caller_id": "anonymous"}, {"caller_id": "Private"},
                 {"caller_id": "restricted"}, {"caller_id": "UNKNOWN"}, {"caller_id": "not a number"},
                 {"caller_id": "123"}):
        response = client.post("/client-data", json=body, headers=auth())
        assert response.status_code == 200, body
        variables = response.json()["dynamic_variables"]
        assert (variables["returning_caller"], variables["memory_count"], variables["caller_id"]) == ("no", "0", "")
        assert "user_id" not in response.json()
        found = client.post("/retrieve", json={"query": "oat milk", "user_id": body.get("caller_id")}, headers=auth())
        assert found.status_code == 200, body
        assert found.json() == {"memories": []}, body
    for body in ({"caller_id": 42}, {"caller_id": "1" * 65}):
        response = client.post("/client-data", json=body, headers=auth())
        assert response.status_code == 400
        assert "error" in response.json()
    malformed = client.post("/client-data", content=b"{nope", headers={**auth(), "Content-Type": "application/json"})
    assert malformed.status_code == 400


def test_post_call_example_is_acked_stored_once_and_processed(client, worker, deps):
    payload = example("post_call_transcription.json")
    assert post_signed(client, payload).json() == {"status": "ok"}
    assert post_signed(client, payload).status_code == 200  # a retry
    assert client.get("/health").json()["queue"] == {"pending": 1, "dead": 0}
    assert drain(worker) == 1
    assert client.get("/health").json()["queue"] == {"pending": 0, "dead": 0}
    card = client.post("/client-data", json={"caller_id": "+14155550123"}, headers=auth()).json()
    assert card["dynamic_variables"]["returning_caller"] == "yes"
    assert card["dynamic_variables"]["caller_name"] == ""  # "Dana" was only said by the agent
    assert "January 14" in card["dynamic_variables"]["last_call_summary"]
    files = deps.store.files("conv_01jxk9a1b2c3d4e5f6g7h8j9k0")
    assert set(files) >= {"payload", "transcript"}
    assert deps.blobs.get(files["payload"]) == json.dumps(payload).encode()


def test_post_call_rejects_bad_signatures_and_bad_json(client):
    raw = json.dumps(example("post_call_transcription.json")).encode()
    assert client.post("/post-call", content=raw).status_code == 401
    assert post_signed(client, raw, secret="wsec_some_other_secret_12345678").status_code == 401
    assert post_signed(client, raw, timestamp=int(time.time()) - 1801).status_code == 401
    assert post_signed(client, raw, timestamp=int(time.time()) + 1801).status_code == 401
    bad = post_signed(client, b"{not json")
    assert bad.status_code == 400
    assert "error" in bad.json()
    assert post_signed(client, {"type": "post_call_transcription", "data": {}}).status_code == 400


def test_audio_before_transcript_is_linked_to_the_caller(client, worker, deps):
    cid = "conv_audio_first_0001"
    assert post_signed(client, builders.audio(conversation_id=cid, mp3=builders.FAKE_MP3)).status_code == 200
    drain(worker)
    turns = [("agent", "Hi, how can I help?"), ("user", "Just checking my booking, thanks.")]
    payload = builders.transcription(conversation_id=cid, caller="+14155550177", turns=turns,
                                     start_time=int(time.time()) - 60, summary="Checked a booking.")
    assert post_signed(client, payload).status_code == 200
    drain(worker)
    files = deps.store.files(cid)
    assert deps.blobs.get(files["audio"]) == builders.FAKE_MP3
    assert "transcript" in files
    # Once the mp3 is a file the inbox keeps only the audio webhook's row; the transcript's raw body stays.
    sizes = inbox_body_sizes(deps, cid)
    assert sizes["post_call_audio"] == 0
    assert sizes["post_call_transcription"] > 0


def test_retrieve_finds_only_the_callers_own_memories(client, worker):
    now = int(time.time())
    alice = [("agent", "Hello!"), ("user", "My order number is A-48213 and I prefer oat milk.")]
    bob = [("agent", "Hello!"), ("user", "My order number is Z-99999 and I prefer almond milk.")]
    post_signed(client, builders.transcription(conversation_id="conv_alice_1", caller="+14155550111",
                                               turns=alice, start_time=now - 100))
    post_signed(client, builders.transcription(conversation_id="conv_bob_1", caller="+14155550122",
                                               turns=bob, start_time=now - 100))
    drain(worker)
    response = client.post("/retrieve", json={"query": "what is my order number", "user_id": "415-555-0111"},
                           headers=auth())
    assert response.status_code == 200
    memories = response.json()["memories"]
    assert memories
    assert all(m["user_id"] == "+14155550111" for m in memories)
    assert any("A-48213" in m["memory"] for m in memories[:5])
    assert not any("Z-99999" in m["memory"] for m in memories)
    top = memories[0]
    assert set(top) == {"id", "memory", "user_id", "score", "metadata", "created_at"}
    assert {"type", "conversation_id", "agent_id", "timestamp"} <= set(top["metadata"])
    # The route writes its JSON itself: it must be exactly what the documented response model says.
    assert RetrieveResponse.model_validate(response.json()).model_dump(mode="json") == response.json()
    assert {m["metadata"]["type"] for m in memories} == {"factual", "semantic"}  # both shapes checked


def test_retrieve_validates_input(client):
    for body in ({"user_id": "+14155550111"}, {"query": "x", "user_id": 5},
                 {"query": "x", "user_id": "+14155550111", "limit": 0},
                 {"query": "x", "user_id": "+14155550111", "limit": 51},
                 {"query": "x", "user_id": "+14155550111", "type": "other"}):
        response = client.post("/retrieve", json=body, headers=auth())
        assert response.status_code == 400, body
    assert client.post("/retrieve", json={"query": "x", "user_id": "+14155550111"}).status_code == 401
    empty = client.post("/retrieve", json={"query": "x", "user_id": "+14155550111"}, headers=auth())
    assert empty.status_code == 200
    assert empty.json() == {"memories": []}


def test_call_initiation_failures_are_stored(client, worker, deps):
    for name in ("call_initiation_failure_twilio.json", "call_initiation_failure_sip.json"):
        assert post_signed(client, example(name)).status_code == 200
    drain(worker)
    assert client.get("/health").json()["queue"] == {"pending": 0, "dead": 0}
    assert "call_initiation_failure" in deps.store.files("conv_01jxkb0000000000000000000")


def test_hmac_key_rotation_accepts_either_secret(tmp_path, embedder):
    from fastapi.testclient import TestClient

    from agentic_memory.bootstrap import build
    from agentic_memory.http.app import create_app
    from tests.conftest import make_settings

    deps = build(make_settings(tmp_path, hmac_key=f"wsec_new_secret_abcdefghijklmnop,{HMAC_KEY}"),
                 embedder=embedder, with_worker=False)
    with TestClient(create_app(deps)) as client:
        payload = example("post_call_audio.json")
        assert post_signed(client, payload).status_code == 200
        assert post_signed(client, payload, secret="wsec_new_secret_abcdefghijklmnop").status_code == 200
    deps.close()


def test_system_prompt_is_only_overridden_when_the_operator_opts_in(tmp_path, embedder):
    from fastapi.testclient import TestClient

    from agentic_memory.bootstrap import build
    from agentic_memory.http.app import create_app
    from tests.conftest import make_settings

    template = "{base_prompt}\n\nWhat we remember about this caller:\n{caller_context}"
    deps = build(make_settings(tmp_path, prompt_template=template, base_prompt="You are the front desk of Bean There."),
                 embedder=embedder, with_worker=False)
    with TestClient(create_app(deps)) as client:
        body = client.post("/client-data", json={"caller_id": "+14155550123"}, headers=auth()).json()
    deps.close()
    prompt = body["conversation_config_override"]["agent"]["prompt"]["prompt"]
    assert prompt.startswith("You are the front desk of Bean There.")
    assert body["dynamic_variables"]["caller_context"] in prompt


def test_authentication_comes_before_any_parsing(client):
    # Without a key, malformed or invalid bodies all get the same 401: nothing about parsing leaks.
    for path in ("/client-data", "/retrieve"):
        for body in (b"{nope", b"[]", b'{"caller_id": 1}', b"{}"):
            response = client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 401, (path, body)
    assert client.post("/client-data", content=b"{nope", headers=auth()).status_code == 400


@pytest.mark.parametrize("deps", ["sqlite"], indirect=True)  # breaks SQLite's file; PostgreSQL: test_postgres.py
def test_post_call_answers_503_when_storage_fails_so_elevenlabs_retries(client, deps):
    db_path = deps.settings.data_dir / "agentic_memory.sqlite3"
    breaker = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    breaker.execute("DROP TABLE inbox")  # the real adapter now fails on every insert
    payload = example("post_call_transcription.json")
    response = post_signed(client, payload)
    assert response.status_code == 503
    assert response.json() == {"error": "storage unavailable, retry later"}

    breaker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: the ack waits for it, then fails
    threading.Timer(0.3, breaker.execute, ("ROLLBACK",)).start()
    response = post_signed(client, payload)
    assert response.status_code == 503
    assert response.json()["error"] == "storage unavailable, retry later"
    breaker.close()


def test_retrieve_with_the_batching_embedder_answers_as_the_direct_path_does(client, worker, deps):
    """The served configuration: the query waits for a model batch, then is searched on the model thread
    (SQLite: offload.then) or on the pool (PostgreSQL). Concurrent queries share batches and each gets its own
    caller's answer."""
    now = int(time.time())
    for caller, order in (("+14155550111", "A-48213"), ("+14155550122", "Z-99999")):
        turns = [("agent", "Hello!"), ("user", f"My order number is {order} and I prefer oat milk.")]
        post_signed(client, builders.transcription(conversation_id=f"conv_{order}", caller=caller, turns=turns,
                                                   start_time=now - 100))
    drain(worker)
    asks = [{"query": query, "user_id": caller} for query in ("what is my order number", "which milk do I like")
            for caller in ("+14155550111", "+14155550122", "+14155550199")]  # the last one never called
    direct = [client.post("/retrieve", json=ask, headers=auth()).json()["memories"] for ask in asks]
    batching = BatchingEmbedder(deps.embedder)
    with app_client(replace(deps, engine=local_engine(deps.store, batching))) as batched, \
            ThreadPoolExecutor(len(asks)) as pool:
        responses = list(pool.map(lambda ask: batched.post("/retrieve", json=ask, headers=auth()), asks * 3))
    assert all(r.status_code == 200 for r in responses)
    for i, response in enumerate(responses):
        memories, expected = response.json()["memories"], direct[i % len(asks)]
        assert {m["id"] for m in memories} == {m["id"] for m in expected}
        assert all(m["user_id"] == asks[i % len(asks)]["user_id"] for m in memories)
    assert any("A-48213" in m["memory"] for m in responses[0].json()["memories"][:5])
    assert responses[2].json()["memories"] == []
