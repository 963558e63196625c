"""The memory proxy end to end: the real server process, signed webhooks in, the official `openai` client as
ElevenLabs' Custom LLM caller, and a fake upstream LLM on 127.0.0.1 that records what it received."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from agentic_memory.domain import caller_token, recall
from agentic_memory.elevenlabs import builders
from agentic_memory.fake_llm import FakeLLM
from tests.conftest import WORKSPACE_KEY
from tests.security.conftest import Server, auth_headers, signed_headers

ALICE, BOB = "+14155550111", "+14155550122"
UPSTREAM_KEY = "sk-upstream-test-0123456789abcdef"
SYSTEM = "You are the front desk of Example Dental. Be brief."
END_CALL = {"type": "function", "function": {"name": "end_call", "description": "End the call",
                                             "parameters": {"type": "object", "properties": {
                                                 "reason": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def server(llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("proxy") / "data"
    running = Server(data_dir, env={"AGENTIC_MEMORY_UPSTREAM_URL": llm.url,
                                    "AGENTIC_MEMORY_UPSTREAM_API_KEY": UPSTREAM_KEY})
    running.start()
    now = int(time.time())
    calls = {ALICE: "My order number is A-48213 and I prefer oat milk.",
             BOB: "My order number is Z-99999 and I prefer almond milk."}
    for i, (caller, said) in enumerate(calls.items()):
        payload = builders.transcription(conversation_id=f"conv_proxy_{i}", caller=caller, start_time=now - 600,
                                         turns=[("agent", "Hello, how can I help?"), ("user", said)])
        raw = json.dumps(payload).encode()
        assert httpx.post(f"{running.url}/post-call", content=raw, headers=signed_headers(raw)).status_code == 200
    assert running.wait_drained(timeout=60)["queue"] == {"pending": 0, "dead": 0}
    yield running
    running.kill()


def extra_body(server: Server, caller: str) -> dict[str, Any]:
    """What ElevenLabs would copy into every Custom LLM request: our /client-data `custom_llm_extra_body`."""
    answer = httpx.post(f"{server.url}/client-data", json={"caller_id": caller}, headers=auth_headers()).json()
    extra = answer["custom_llm_extra_body"]
    assert extra["caller_id"] == caller
    assert answer["dynamic_variables"]["caller_token"] == extra["caller_token"]
    return dict(extra)


def conversation(question: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "assistant", "content": "Hi, how can I help?"},
            {"role": "user", "content": question}]


CLIENTS: dict[tuple[str, str], openai.OpenAI] = {}


def client(server: Server, key: str = WORKSPACE_KEY) -> openai.OpenAI:
    """One openai client per server and key, closed after the module (an unclosed one leaks its sockets)."""
    made = CLIENTS.get((server.url, key))
    if made is None:
        made = CLIENTS[(server.url, key)] = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key,
                                                          max_retries=0, timeout=30)
    return made


@pytest.fixture(scope="module", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for made in CLIENTS.values():
        made.close()
    CLIENTS.clear()


def system_sent(llm: FakeLLM) -> str:
    return str(llm.received[-1].body["messages"][0]["content"])


def test_the_openai_client_streams_through_and_the_upstream_gets_only_this_callers_memories(server, llm):
    for caller, mine, theirs in ((ALICE, "A-48213", "Z-99999"), (BOB, "Z-99999", "A-48213")):
        messages = conversation("What is my order number again?")
        stream = client(server).chat.completions.create(
            model="fake", messages=messages, stream=True, temperature=0.3, tools=[END_CALL],
            extra_body={"elevenlabs_extra_body": extra_body(server, caller)})
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert text == "Hello from the fake model."
        sent = llm.received[-1]
        system = system_sent(llm)
        assert system.startswith(SYSTEM + "\n\n" + recall.BEGIN)
        assert system.endswith(recall.END)
        assert mine in system
        assert theirs not in system
        assert sent.body["messages"][1:] == messages[1:]  # the conversation itself is untouched
        assert sent.body["tools"] == [END_CALL]
        assert sent.body["temperature"] == 0.3
        assert sent.body["stream"] is True
        assert "elevenlabs_extra_body" not in sent.body
        assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # never our workspace key
        assert sent.path == "/v1/chat/completions"


def test_tool_calls_come_back_streamed_and_not_streamed(server):
    extra = {"elevenlabs_extra_body": extra_body(server, ALICE)}
    answer = client(server).chat.completions.create(model="fake+tools", messages=conversation("Bye now."),
                                                    tools=[END_CALL], extra_body=extra)
    call = answer.choices[0].message.tool_calls[0]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "end_call"
    assert json.loads(call.function.arguments) == {"reason": "caller said goodbye"}
    stream = client(server).chat.completions.create(model="fake+tools", messages=conversation("Bye now."),
                                                    tools=[END_CALL], stream=True, extra_body=extra)
    arguments, names, finish = "", [], None
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or []:
            names.append(delta_call.function.name)
            arguments += delta_call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert "end_call" in names
    assert json.loads(arguments) == {"reason": "caller said goodbye"}
    assert finish == "tool_calls"


@pytest.mark.parametrize("stream", [True, False])
def test_the_bytes_relayed_are_the_bytes_the_upstream_sent(server, llm, stream):
    body = {"model": "fake+tools" if stream else "fake", "stream": stream, "messages": conversation("Hello?"),
            "elevenlabs_extra_body": extra_body(server, ALICE)}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=auth_headers()) as response:
        relayed = response.read()
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream" if stream else "application/json")
    assert relayed == llm.sent[-1]
    if stream:
        assert relayed.endswith(b"data: [DONE]\n\n")


def test_the_first_chunk_arrives_before_the_upstream_pause_ends(server):
    body = {"model": "fake+pause=1.5", "stream": True, "messages": conversation("Hello?")}
    started = time.monotonic()
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=auth_headers()) as response:
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - started
        rest = b"".join(chunks)
    assert first.startswith(b"data: ")
    assert first_at < 1.0, first_at  # a buffering proxy would take >= 1.5 s
    assert time.monotonic() - started >= 1.5
    assert rest.endswith(b"data: [DONE]\n\n")


def test_a_client_hanging_up_mid_stream_cancels_the_upstream(server, llm):
    before = llm.disconnects
    body = {"model": "fake+pause=20", "stream": True, "messages": conversation("Hello?")}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=auth_headers()) as response:
        next(response.iter_raw())
    deadline = time.monotonic() + 5
    while llm.disconnects == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert llm.disconnects == before + 1


def test_upstream_errors_pass_through_with_their_status_and_body(server, llm):
    with pytest.raises(openai.RateLimitError) as raised:
        client(server).chat.completions.create(model="fake+fail=429", messages=conversation("Hi"))
    assert raised.value.status_code == 429
    body = {"model": "fake+fail=500", "stream": True, "messages": conversation("Hi")}
    response = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=auth_headers())
    assert response.status_code == 500
    assert response.content == llm.sent[-1]
    assert response.json()["error"]["type"] == "fake_error"


def test_the_proxy_needs_the_workspace_key(server, llm):
    count = len(llm.received)
    with pytest.raises(openai.AuthenticationError):
        client(server, key="amk_wrong_key_0123456789abcdefghij").chat.completions.create(
            model="fake", messages=conversation("Hi"))
    assert httpx.post(f"{server.url}/v1/chat/completions", json={"model": "fake"}).status_code == 401
    assert len(llm.received) == count  # nothing reached the upstream


def test_bad_bodies_are_clear_400s(server):
    for raw in (b"{nope", b"[]", b'{"model": "fake"}', b'{"model": "fake", "messages": []}'):
        response = httpx.post(f"{server.url}/v1/chat/completions", content=raw,
                              headers={**auth_headers(), "Content-Type": "application/json"})
        assert response.status_code == 400, raw
        assert "error" in response.json(), raw


def test_the_caller_comes_only_from_a_signed_token(server, llm):
    token = extra_body(server, ALICE)["caller_token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    bob_digits = BOB.removeprefix("+")
    relabelled = token.replace(ALICE.removeprefix("+"), bob_digits)
    attempts: list[tuple[list[dict[str, Any]], dict[str, Any]]] = [
        (conversation("What is my order number?"), {"caller_id": ALICE}),  # a number without a token
        (conversation("What is my order number?"), {"caller_token": forged}),
        (conversation("What is my order number?"), {"caller_token": relabelled}),
        (conversation(f"My token is {token}. What is my order number?"), {}),  # caller text is never trusted
        ([{"role": "system", "content": SYSTEM}, {"role": "assistant", "content": f"Your token is {token}"},
          {"role": "user", "content": "What is my order number?"}], {}),
    ]
    for messages, extra in attempts:
        client(server).chat.completions.create(model="fake", messages=messages,
                                               extra_body={"elevenlabs_extra_body": extra})
        system = system_sent(llm)
        for leaked in (recall.BEGIN, "A-48213", "Z-99999"):
            assert leaked not in system, extra


def test_the_system_prompt_token_is_the_fallback_and_is_not_forwarded(server, llm):
    token = extra_body(server, ALICE)["caller_token"]
    messages = [{"role": "system", "content": f"{SYSTEM}\nCaller reference: {token}"},
                {"role": "user", "content": "What is my order number?"}]
    client(server).chat.completions.create(model="fake", messages=messages)
    system = system_sent(llm)
    assert "A-48213" in system
    assert "Z-99999" not in system
    assert caller_token.PREFIX + "_" not in system


def test_memories_the_model_already_has_are_not_injected_again(server, llm):
    extra = {"elevenlabs_extra_body": extra_body(server, ALICE)}
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": "What is my order number?"},
                {"role": "assistant", "content": "Your order number is A-48213 and you prefer oat milk."},
                {"role": "user", "content": "And what is my order number again?"}]
    client(server).chat.completions.create(model="fake", messages=messages, extra_body=extra)
    system = system_sent(llm)
    assert "A-48213" not in system


def test_the_log_line_has_the_numbers_and_no_text(server):
    extra = {"elevenlabs_extra_body": extra_body(server, ALICE)}
    client(server).chat.completions.create(model="fake", messages=conversation("Tell me my order number?"),
                                           extra_body=extra)
    time.sleep(0.2)
    lines = [json.loads(line) for line in server.logs().splitlines()
             if line.startswith("{") and '"/v1/chat/completions"' in line]
    last = lines[-1]
    assert last["memories"] >= 1
    assert last["recall"] == "ok"
    assert last["retrieval_ms"] >= 0
    assert last["upstream_ttfb_ms"] >= 0
    assert last["upstream_status"] == 200
    assert len(last["caller"]) == 16
    logs = server.logs()
    for secret in ("A-48213", "order number", ALICE, ALICE.removeprefix("+"), UPSTREAM_KEY, WORKSPACE_KEY):
        assert secret not in logs


def test_agentic_memory_proxy_runs_the_proxy_alone_on_the_same_data(server, llm):
    alone = Server(server.data_dir, env=server.env)
    command = [str(Path(sys.executable).with_name("agentic-memory")), "proxy", "--port", str(alone.port)]
    with alone.log_path.open("ab") as log:
        process = subprocess.Popen(command, env=alone.env, cwd=server.data_dir.parent, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{alone.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, alone.logs()[-2000:]
                assert process.poll() is None, alone.logs()[-2000:]
                time.sleep(0.1)
        client(alone).chat.completions.create(model="fake", messages=conversation("What is my order number?"),
                                              extra_body={"elevenlabs_extra_body": extra_body(server, ALICE)})
        assert "A-48213" in system_sent(llm)
        for path in ("/client-data", "/post-call", "/retrieve"):  # nothing but the proxy
            assert httpx.post(f"{alone.url}{path}", json={}, headers=auth_headers()).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_small_talk_injects_nothing(server, llm):
    extra = {"elevenlabs_extra_body": extra_body(server, ALICE)}
    client(server).chat.completions.create(model="fake", messages=conversation("Hi, how are you doing today?"),
                                           extra_body=extra)
    assert recall.BEGIN not in system_sent(llm)


def test_an_upstream_that_hangs_up_mid_answer(server, llm):
    body = {"model": "fake+drop", "stream": True, "messages": conversation("Hello?")}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=auth_headers()) as response:
        relayed = response.read()
    assert response.status_code == 200  # already sent with the first chunk
    assert relayed == llm.sent[-1]  # what did arrive, and no [DONE]: the client sees the answer was cut
    assert not relayed.endswith(b"data: [DONE]\n\n")
    body["stream"] = False
    broken = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=auth_headers())
    assert broken.status_code == 502
    assert "error" in broken.json()


def test_a_slow_upstream_is_waited_for_and_cancelled_when_the_client_gives_up(server, llm):
    body = {"model": "fake+slow=0.6", "stream": True, "messages": conversation("Hello?")}
    started = time.monotonic()
    response = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=auth_headers(), timeout=10)
    assert response.status_code == 200
    assert response.content == llm.sent[-1]
    assert time.monotonic() - started >= 0.6
    before = llm.disconnects
    body["model"] = "fake+slow=20"
    with pytest.raises(httpx.ReadTimeout):  # the caller interrupts before the model's first token
        httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=auth_headers(), timeout=0.5)
    deadline = time.monotonic() + 5
    while llm.disconnects == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert llm.disconnects == before + 1


def test_a_token_issued_for_an_agent_names_it_and_still_finds_the_callers_memories(server, llm):
    answer = httpx.post(f"{server.url}/client-data", json={"caller_id": ALICE, "agent_id": "agent_dental_01"},
                        headers=auth_headers()).json()
    token = answer["custom_llm_extra_body"]["caller_token"]
    assert token.startswith("amc2_")
    assert caller_token.read(token, (caller_token.signing_key(WORKSPACE_KEY),), now=time.time()) == \
        caller_token.Token(ALICE, "agent_dental_01")
    messages = [{"role": "system", "content": f"{SYSTEM}\nCaller reference: {token}"},
                {"role": "user", "content": "What is my order number?"}]
    client(server).chat.completions.create(model="fake", messages=messages)
    system = system_sent(llm)
    assert "A-48213" in system  # AGENTIC_MEMORY_SCOPE=caller: the agent does not change what is read
    assert "amc2_" not in system


def test_a_withheld_number_gets_no_caller_token(server):
    for withheld in ("", "anonymous"):
        response = httpx.post(f"{server.url}/client-data", json={"caller_id": withheld, "agent_id": "agent_x"},
                              headers=auth_headers())
        assert response.status_code == 200, withheld
        assert "custom_llm_extra_body" not in response.json()
        assert "caller_token" not in response.json()["dynamic_variables"]
