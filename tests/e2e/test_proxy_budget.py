"""Memory never delays or breaks the agent's reply: a slow or failing memory store, and the proxy forwards
unenriched within its budget, without leaving abandoned lookups running."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn

from agentic_memory.adapters.local_engine import LocalMemoryEngine
from agentic_memory.bootstrap import Deps, build
from agentic_memory.domain import recall
from agentic_memory.elevenlabs import builders
from agentic_memory.fake_llm import FakeLLM
from agentic_memory.http.app import create_app
from agentic_memory.services.proxy import RECALL_THREADS, Recaller
from agentic_memory.testing import HashEmbedder
from tests.conftest import make_settings
from tests.security.conftest import auth_headers, free_port, signed_headers

CALLER = "+14155550111"
BUDGET_MS = 150
HTTP = httpx.Client(timeout=10)  # made once: a new client builds an SSL context, tens of ms the proxy never spends


class SlowStore:
    """The real store, with a dense search that can be made slow or failing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.delay = 0.0
        self.fail = False
        self.dense_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def dense_search(self, *args: Any, **kwargs: Any) -> Any:
        self.dense_calls += 1
        if self.fail:
            raise RuntimeError("disk on fire")
        time.sleep(self.delay)
        return self.inner.dense_search(*args, **kwargs)


class PortOnly:
    """An engine with the MemoryEngine port's methods only."""

    def __init__(self, inner: LocalMemoryEngine) -> None:
        self.remember, self.prepare, self.recall = inner.remember, inner.prepare, inner.recall
        self.forget, self.ping = inner.forget, inner.ping


class SlowEmbedder:
    def __init__(self) -> None:
        self.inner = HashEmbedder()
        self.dim = self.inner.dim
        self.delay = 0.0
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        time.sleep(self.delay)
        return self.inner.embed(texts)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture
def served(tmp_path: Path, llm: FakeLLM) -> Iterator[tuple[str, Deps]]:
    settings = make_settings(tmp_path / "data", upstream_url=llm.url, proxy_budget_ms=BUDGET_MS)
    deps = build(settings, embedder=SlowEmbedder(), with_worker=False)
    deps.store = SlowStore(deps.store)
    assert deps.embedder is not None
    deps.engine = LocalMemoryEngine(deps.store, deps.embedder)  # recall through the slow store too
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(deps), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    turns = [("agent", "Hello!"), ("user", "My order number is A-48213 and I prefer oat milk.")]
    raw = json.dumps(builders.transcription(conversation_id="conv_budget_1", caller=CALLER, turns=turns,
                                            start_time=int(time.time()) - 60)).encode()
    assert httpx.post(f"{url}/post-call", content=raw, headers=signed_headers(raw)).status_code == 200
    worker = deps.make_worker()
    while worker.run_once():
        pass
    yield url, deps
    server.should_exit = True
    thread.join(timeout=10)
    deps.close()


def ask(url: str, extra: dict[str, Any], *, question: str = "What is my order number again?") -> tuple[float, bytes]:
    """Time to the first streamed chunk (s), and the whole answer."""
    body = {"model": "fake", "stream": True, "elevenlabs_extra_body": extra,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": question}]}
    started = time.monotonic()
    with HTTP.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth_headers()) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        first = next(chunks)
        ttfb = time.monotonic() - started
        return ttfb, first + b"".join(chunks)


def token(url: str) -> dict[str, Any]:
    answer = httpx.post(f"{url}/client-data", json={"caller_id": CALLER}, headers=auth_headers()).json()
    return dict(answer["custom_llm_extra_body"])


def test_with_a_fast_store_the_memories_are_injected(served, llm):
    url, _ = served
    ask(url, token(url))
    system = llm.received[-1].body["messages"][0]["content"]
    assert recall.BEGIN in system
    assert "A-48213" in system


def test_a_slow_store_is_left_behind_at_the_budget(served, llm):
    url, deps = served
    extra = token(url)
    ask(url, extra, question="Hello, is this the dentist?")  # warm: connections, first-use pools
    deps.store.delay = 2.0
    ttfb, answer = ask(url, extra)
    assert answer.endswith(b"data: [DONE]\n\n")
    assert BUDGET_MS / 1000 <= ttfb < (BUDGET_MS + 100) / 1000, ttfb
    assert recall.BEGIN not in llm.received[-1].body["messages"][0]["content"]


def test_abandoned_lookups_stop_before_their_next_step_queued_ones_never_start_and_stuck_memory_is_skipped(served):
    _, deps = served
    embedder = SlowEmbedder()
    embedder.delay = 1.0
    # The port alone (as Mem0's engine): no keyword ranking to fall back on, so every turn does the full lookup
    recaller = Recaller(deps.store, PortOnly(LocalMemoryEngine(deps.store, embedder)), budget_ms=BUDGET_MS,
                        default_region="US")
    messages = [{"role": "user", "content": "What is my order number again?"}]
    store = deps.store
    dense = store.dense_calls

    async def turns(n: int) -> list[Any]:
        return list(await asyncio.gather(*(recaller.recall(CALLER, messages) for _ in range(n))))

    try:
        started = time.monotonic()
        results = asyncio.run(turns(RECALL_THREADS + 2))
        assert time.monotonic() - started < embedder.delay / 2  # nobody waited for the embeddings
        assert {r.status for r in results} == {"timeout"}
        # Memory is stuck now: the next turn does not wait the budget again.
        again = asyncio.run(turns(1))[0]
        assert again.status == "stuck"
        assert again.ms < 5
        time.sleep(1.2)  # the running lookups finish their embedding and reach their next checkpoint
        assert embedder.calls == RECALL_THREADS  # the two queued lookups never started
        assert store.dense_calls == dense  # nor did any search after the deadline
        assert asyncio.run(turns(1))[0].status == "timeout"  # not stuck any more: lookups are tried again
    finally:
        recaller.close()


def test_the_same_turn_again_reuses_the_memories_just_found(served):
    _, deps = served
    recaller = Recaller(deps.store, LocalMemoryEngine(deps.store, SlowEmbedder()), budget_ms=1000, default_region="US")
    store = deps.store
    first_turn = [{"role": "user", "content": "What is my order number again?"}]
    after_a_tool = [*first_turn, {"role": "assistant", "content": None, "tool_calls": []},
                    {"role": "tool", "content": "{}", "tool_call_id": "call_1"}]
    try:
        first = asyncio.run(recaller.recall(CALLER, first_turn))
        dense = store.dense_calls
        again = asyncio.run(recaller.recall(CALLER, after_a_tool))
        assert first.status == "ok"
        assert again.status == "repeat"
        assert again.block == first.block
        assert store.dense_calls == dense
        other = asyncio.run(recaller.recall("+14155550999", first_turn))
        assert other.status == "new_caller"  # the cache is per caller
    finally:
        recaller.close()


def test_a_failing_store_forwards_unenriched(served, llm):
    url, deps = served
    deps.store.fail = True
    _, answer = ask(url, token(url))
    assert answer.endswith(b"data: [DONE]\n\n")
    assert recall.BEGIN not in llm.received[-1].body["messages"][0]["content"]


def test_an_unreachable_upstream_is_a_502_and_a_missing_one_a_503(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/v1"
    for upstream, status in ((closed, 502), ("", 503)):
        deps = build(make_settings(tmp_path / f"data{status}", upstream_url=upstream), embedder=HashEmbedder(),
                     with_worker=False)
        from fastapi.testclient import TestClient

        with TestClient(create_app(deps)) as client:
            response = client.post("/v1/chat/completions", headers=auth_headers(),
                                   json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        deps.close()
        assert response.status_code == status
        assert "error" in response.json()


def test_client_data_says_nothing_of_the_proxy_when_it_is_off(client):
    # An agent that has not allowed the custom_llm_extra_body override fails to start if it gets one.
    answer = client.post("/client-data", json={"caller_id": CALLER}, headers=auth_headers()).json()
    assert "custom_llm_extra_body" not in answer
    assert "caller_token" not in answer["dynamic_variables"]


def test_the_upstream_model_setting_overrides_elevenlabs_model(tmp_path, llm):
    from fastapi.testclient import TestClient

    settings = make_settings(tmp_path / "data", upstream_url=llm.url, upstream_model="fake-override",
                             upstream_api_key="sk-upstream-override-0123456789")
    deps = build(settings, embedder=HashEmbedder(), with_worker=False)
    with TestClient(create_app(deps)) as client:
        response = client.post("/v1/chat/completions", headers=auth_headers(),
                               json={"model": "eleven-model", "messages": [{"role": "user", "content": "hi"}]})
    deps.close()
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello from the fake model."
    assert llm.received[-1].body["model"] == "fake-override"
    assert llm.received[-1].headers["authorization"] == "Bearer sk-upstream-override-0123456789"
