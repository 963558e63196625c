"""The proxy's upstream client takes HTTP(S)_PROXY / NO_PROXY from the environment, and nothing else."""

from __future__ import annotations

import pytest

from agentic_memory.http.proxy import Upstream


def test_env_proxies_apply_to_the_upstream_unless_no_proxy_covers_it(monkeypatch: pytest.MonkeyPatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert Upstream("https://api.example.com/v1", "", "").proxy is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "llm.internal")
    assert Upstream("https://api.example.com/v1", "", "").proxy == "http://proxy.internal:3128"
    assert Upstream("https://llm.internal/v1", "", "").proxy is None
    assert Upstream("http://api.example.com/v1", "", "").proxy is None  # HTTP_PROXY unset
    assert Upstream("", "", "").proxy is None
