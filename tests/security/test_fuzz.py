"""Fuzz every endpoint from its OpenAPI schema (schemathesis), with and without valid credentials:
no 5xx, every rejection a JSON 4xx with an "error" key, every answer as documented."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from agentic_memory.bootstrap import build
from agentic_memory.elevenlabs.signature import sign
from agentic_memory.http.app import create_app
from agentic_memory.testing import HashEmbedder
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, make_settings

EXAMPLES = 60  # per endpoint x generation mode x credentials: 240 requests per endpoint
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# A phone number has no JSON-schema pattern we could publish, so schema-valid strings may still be refused.
EXCLUDED = [positive_data_acceptance]


class Api:
    def __init__(self, root: Path) -> None:
        self.deps = build(make_settings(root / "data"), embedder=HashEmbedder(), with_worker=False)
        self.app = create_app(self.deps)
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", self.app)
        self.client = TestClient(self.app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    built = Api(tmp_path_factory.mktemp("fuzz"))
    with built.client:
        yield built
    built.deps.close()


def assert_clean_rejection(status: int, content: bytes, headers: Any) -> None:
    assert status < 500, content[:300]
    if 400 <= status < 500:
        content_type = headers.get("content-type", "")
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/json"), (status, content[:200])
        body = json.loads(content)
        assert isinstance(body, dict), body
        assert isinstance(body.get("error"), str), body
        assert body["error"], body


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("authenticated", [True, False], ids=["with-key", "without-key"])
@pytest.mark.parametrize("path", ["/client-data", "/retrieve"])
def test_workspace_endpoints(api: Api, path: str, authenticated: bool, mode: GenerationMode):
    strategy = api.schema[path]["POST"].as_strategy(generation_mode=mode)
    extra = {"X-Workspace-Key": WORKSPACE_KEY} if authenticated else None
    statuses: set[int] = set()

    @FUZZ
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(headers=extra)
        statuses.add(response.status_code)
        assert_clean_rejection(response.status_code, response.content, response.headers)
        if not authenticated:
            assert response.status_code in (400, 401, 413)
        case.validate_response(response, excluded_checks=EXCLUDED)

    run()
    if authenticated and mode is GenerationMode.NEGATIVE:
        assert statuses & {400, 413}
    if not authenticated:
        assert 401 in statuses


def _raw_body(kwargs: dict[str, Any]) -> bytes | None:
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    if data is None:
        return None
    return data if isinstance(data, bytes) else str(data).encode()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_post_call_with_and_without_valid_signatures(api: Api, mode: GenerationMode):
    strategy = api.schema["/post-call"]["POST"].as_strategy(generation_mode=mode)
    statuses: dict[bool, set[int]] = {True: set(), False: set()}

    @settings(FUZZ, max_examples=2 * EXAMPLES)
    @given(case=strategy, signed=st.booleans())
    def run(case: Any, signed: bool) -> None:
        kwargs = case.as_transport_kwargs()
        raw = _raw_body(kwargs)
        headers = {k: v for k, v in kwargs["headers"].items() if not k.lower().startswith("x-schemathesis")}
        if signed:  # half the cases carry a valid signature over exactly the bytes sent
            headers = {k: v for k, v in headers.items() if k.lower() != "elevenlabs-signature"}
            headers["ElevenLabs-Signature"] = sign(raw or b"", HMAC_KEY)
        response = api.client.request("POST", "/post-call", content=raw, params=kwargs.get("params"),
                                      headers={k: str(v).encode("utf-8") for k, v in headers.items()})
        statuses[signed].add(response.status_code)
        assert_clean_rejection(response.status_code, response.content, response.headers)
        if not signed:
            assert response.status_code in (400, 401, 413)
        else:
            assert response.status_code in (200, 400, 413)
        case.validate_response(response, excluded_checks=EXCLUDED)

    run()
    assert 401 in statuses[False]
    assert 400 in statuses[True]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/client-data", "/retrieve", "/post-call", "/nope", "/health/../client-data"])
def test_unknown_routes_and_methods_are_json_4xx(api: Api, method: str, path: str):
    response = api.client.request(method, path, headers={"X-Workspace-Key": WORKSPACE_KEY})
    assert 400 <= response.status_code < 500
    assert_clean_rejection(response.status_code, response.content, response.headers)
