"""The proxy's HTTP edge, answered before FastAPI's layers (`http.proxy.ChatCompletions`): the same request id,
errors, body limit, access-log line and request metric as every other endpoint, and the same bytes as the
FastAPI route answered them; other methods and paths still reach the app."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import Deps, build
from agentic_memory.fake_llm import FakeLLM
from agentic_memory.http.app import create_app
from agentic_memory.http.errors import install_error_handlers
from agentic_memory.http.proxy import MAX_BYTES, PATH, Proxy, create_proxy_app, proxy_router
from agentic_memory.logs import configure_logging
from agentic_memory.testing import HashEmbedder
from tests.conftest import WORKSPACE_KEY, make_settings
from tests.security.conftest import auth_headers

TURN = {"model": "fake", "stream": True, "messages": [{"role": "system", "content": "Be brief."},
                                                      {"role": "user", "content": "Hello?"}]}
UNAUTHORIZED = b'{"error":"missing or invalid workspace key (X-Workspace-Key or Authorization: Bearer)"}'


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The process's JSON log lines while the test runs (the handlers before it are put back)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def _app(tmp_path: Path, llm: FakeLLM, *, upstream: bool = True, alone: bool = False) -> tuple[Deps, FastAPI]:
    deps = build(make_settings(tmp_path / "data", upstream_url=llm.url if upstream else ""),
                 embedder=HashEmbedder(), with_worker=False)
    return deps, create_proxy_app(deps) if alone else create_app(deps)


@pytest.fixture(params=["serve", "proxy"])
def client(request: pytest.FixtureRequest, tmp_path: Path, llm: FakeLLM) -> Iterator[TestClient]:
    deps, app = _app(tmp_path, llm, alone=request.param == "proxy")
    with TestClient(app, raise_server_exceptions=False) as running:
        yield running
    deps.close()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_a_relayed_turn_has_its_request_id_and_one_access_line(client, llm, logs):
    response = client.post(PATH, json=TURN, headers={**auth_headers(), "X-Request-Id": "trace-proxy_1"})
    assert response.status_code == 200
    assert response.content == llm.sent[-1]
    assert response.headers["x-request-id"] == "trace-proxy_1"
    generated = client.post(PATH, json=TURN, headers={"Authorization": f"Bearer {WORKSPACE_KEY}",
                                                       "X-Request-Id": "not a safe id!"})
    assert generated.status_code == 200
    rid = generated.headers["x-request-id"]
    assert len(rid) == 16
    assert rid != "not a safe id!"
    lines = [line for line in _lines(logs) if line.get("path") == PATH]
    assert [line["request_id"] for line in lines] == ["trace-proxy_1", rid]
    for line in lines:
        assert line["logger"] == "agentic_memory.access"
        assert line["method"] == "POST"
        assert line["status"] == 200
        assert line["ms"] >= 0
        assert line["stream"] is True
        assert line["recall"] == "no_caller"
        assert line["caller"] == ""
        assert line["memories"] == 0
        assert line["upstream_status"] == 200
        assert line["upstream_ttfb_ms"] >= 0
        # the route's fields first, then the middleware's, as the FastAPI route's line had them
        assert list(line)[-4:] == ["method", "path", "status", "ms"]


def test_errors_are_the_same_bytes_as_any_other_endpoints(client):
    """401 and 413 as /retrieve (through FastAPI) answers them, with the request id; 400 as the route did."""
    for path in (PATH, "/retrieve"):
        refused = client.post(path, json=TURN, headers={"Authorization": "Bearer amk_wrong_0123456789abcdef",
                                                        "X-Request-Id": "r-401"})
        if client.app.title.endswith("proxy") and path != PATH:
            continue  # the proxy alone serves nothing else
        assert refused.status_code == 401, path
        assert refused.content == UNAUTHORIZED, path
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["x-request-id"] == "r-401"
    for raw in (b"{nope", b"[]", b'{"messages": []}', b'{"messages": "hi"}'):
        bad = client.post(PATH, content=raw, headers={**auth_headers(), "X-Request-Id": "r-400"})
        assert bad.status_code == 400, raw
        assert set(bad.json()) == {"error"}, raw
        assert bad.headers["x-request-id"] == "r-400"
    declared = client.post(PATH, content=b" " * (MAX_BYTES + 1), headers=auth_headers())
    assert declared.status_code == 413
    assert declared.content == json.dumps({"error": "request body too large",
                                           "detail": {"max_bytes": MAX_BYTES}}).encode()
    assert declared.headers["connection"] == "close"
    assert len(declared.headers["x-request-id"]) == 16


def test_a_streamed_body_is_read_whole_and_cut_off_past_the_limit(client, llm):
    raw = json.dumps(TURN).encode()
    pieces = iter([raw[:10], raw[10:40], raw[40:]])  # no Content-Length: Transfer-Encoding: chunked
    assert client.post(PATH, content=pieces, headers=auth_headers()).status_code == 200
    assert llm.received[-1].body["messages"] == TURN["messages"]
    count = len(llm.received)

    def huge() -> Iterator[bytes]:
        for _ in range(MAX_BYTES // (1024 * 1024) + 1):
            yield b" " * (1024 * 1024)

    cut = client.post(PATH, content=huge(), headers=auth_headers())
    assert cut.status_code == 413
    assert cut.json()["detail"]["max_bytes"] == MAX_BYTES
    assert len(llm.received) == count  # nothing of it went upstream


def test_other_methods_and_paths_still_reach_the_app(client):
    assert client.get(PATH, headers=auth_headers()).status_code == 405
    assert client.get("/health").status_code == 200
    assert PATH in client.get("/openapi.json").json()["paths"]  # documented, for /docs and the fuzz tests


def test_the_request_metric_counts_proxied_turns_by_status(tmp_path, llm):
    deps, app = _app(tmp_path, llm)
    with TestClient(app) as client:
        assert client.post(PATH, json=TURN, headers=auth_headers()).status_code == 200
        assert client.post(PATH, json=TURN, headers={"X-Workspace-Key": "wrong"}).status_code == 401
        text = client.get("/metrics").text
    deps.close()
    for status in ("200", "401"):
        labels = f'method="POST",route="{PATH}",status="{status}"'
        assert f"agentic_memory_http_request_duration_seconds_count{{{labels}}} 1.0" in text, status


def test_without_an_upstream_the_key_is_checked_first_then_a_503(tmp_path, llm):
    deps, app = _app(tmp_path, llm, upstream=False)
    with TestClient(app) as client:
        assert client.post(PATH, json=TURN).status_code == 401
        off = client.post(PATH, json=TURN, headers=auth_headers())
    deps.close()
    assert off.status_code == 503
    assert off.json() == {"error": "the memory proxy is off: set AGENTIC_MEMORY_UPSTREAM_URL"}
    assert len(off.headers["x-request-id"]) == 16


def test_the_documented_route_alone_answers_as_the_fast_path_does(tmp_path, llm):
    """Mounted without `ChatCompletions` (an embedder's own app), the route hands the request to the same code."""
    deps = build(make_settings(tmp_path / "data", upstream_url=llm.url), embedder=HashEmbedder(), with_worker=False)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(proxy_router(deps, Proxy(deps)))
    with TestClient(app) as client:
        answered = client.post(PATH, json=TURN, headers=auth_headers())
        refused = client.post(PATH, json=TURN)
    deps.close()
    assert answered.status_code == 200
    assert answered.content == llm.sent[-1]
    assert refused.status_code == 401
