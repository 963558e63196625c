"""Fuzz the memory proxy from its OpenAPI schema, with and without the key, against a fake upstream LLM:
nothing the caller sends makes the proxy itself fail (5xx) or answer a rejection that is not JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from agentic_memory.bootstrap import Deps, build
from agentic_memory.fake_llm import FakeLLM
from agentic_memory.http.app import create_app
from agentic_memory.http.proxy import PATH
from agentic_memory.testing import HashEmbedder
from tests.conftest import WORKSPACE_KEY, make_settings
from tests.security.test_fuzz import assert_clean_rejection

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TestClient, FakeLLM]]:
    llm = FakeLLM()
    llm.start()
    root: Path = tmp_path_factory.mktemp("proxy-fuzz")
    deps: Deps = build(make_settings(root / "data", upstream_url=llm.url), embedder=HashEmbedder(),
                       with_worker=False)
    app = create_app(deps)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield schemathesis.openapi.from_asgi("/openapi.json", app), client, llm
    deps.close()
    llm.stop()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("authenticated", [True, False], ids=["with-key", "without-key"])
def test_the_proxy_never_fails_on_what_it_is_sent(proxied, authenticated: bool, mode: GenerationMode):
    schema, client, llm = proxied
    strategy = schema[PATH]["POST"].as_strategy(generation_mode=mode)
    headers = {"Authorization": f"Bearer {WORKSPACE_KEY}"} if authenticated else {}
    before = len(llm.received)

    @FUZZ
    @given(case=strategy)
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs()
        sent = {k: v for k, v in kwargs["headers"].items() if not k.lower().startswith("x-schemathesis")}
        response = client.request("POST", PATH, json=kwargs.get("json"), content=kwargs.get("data"),
                                  headers={**sent, **headers})
        assert_clean_rejection(response.status_code, response.content, response.headers)
        if not authenticated:
            assert response.status_code in (400, 401, 413)

    run()
    if not authenticated:
        assert len(llm.received) == before  # nothing unauthenticated reached the upstream
    elif mode is GenerationMode.POSITIVE:
        assert len(llm.received) > before  # valid requests were forwarded
