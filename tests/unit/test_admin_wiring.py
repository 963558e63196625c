"""The admin API on the shipped fakes, and a backend without an AdminStore still serving everything else."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agentic_memory.config import load_settings
from agentic_memory.http.app import create_app
from agentic_memory.testing import TEST_HMAC_KEY, TEST_WORKSPACE_KEY, in_memory_deps

ADMIN_KEY = "amadm_wiring_admin_key_0123456789abcdef"


def settings() -> object:
    return load_settings({"ELEVENLABS_WORKSPACE_KEY": TEST_WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": TEST_HMAC_KEY,
                          "AGENTIC_MEMORY_ADMIN_KEY": ADMIN_KEY}, env_file=None)


def test_the_admin_api_runs_on_the_fakes():
    deps = in_memory_deps(settings())
    with TestClient(create_app(deps)) as client:
        assert client.get("/admin/callers", headers={"X-Admin-Key": ADMIN_KEY}).json() == {
            "callers": [], "next_offset": None}
        assert client.get("/metrics").status_code == 401
        assert "agentic_memory_callers 0.0" in client.get("/metrics", headers={"X-Admin-Key": ADMIN_KEY}).text


def test_a_backend_without_an_admin_store_still_serves():
    deps = in_memory_deps(settings())
    deps.admin = None
    with TestClient(create_app(deps)) as client:
        assert client.get("/admin/callers", headers={"X-Admin-Key": ADMIN_KEY}).status_code == 404
        assert client.get("/health").status_code == 200
        assert client.get("/metrics", headers={"X-Admin-Key": ADMIN_KEY}).status_code == 200
