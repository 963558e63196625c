"""The admin API over HTTP on a real SQLite data dir and a real PostgreSQL: auth, audit, callers, memories,
erasure, dead letters, metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from agentic_memory.bootstrap import Deps, build
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from tests.conftest import WORKSPACE_KEY, app_client, auth, backend_deps, drain, make_settings, post_signed

ADMIN_KEY = "amadm_test_admin_key_0123456789abcdef"
ANN = "+14155550142"


def admin() -> dict[str, str]:
    return {"X-Admin-Key": ADMIN_KEY, "X-Operator": "alice"}


@pytest.fixture(params=["sqlite", "postgres"])
def admin_deps(request: pytest.FixtureRequest, tmp_path: Path, embedder: Any) -> Iterator[Deps]:
    with backend_deps(request, tmp_path, embedder, admin_key=ADMIN_KEY) as built:
        yield built


@pytest.fixture
def api(admin_deps: Deps) -> Iterator[TestClient]:
    with app_client(admin_deps) as test_client:
        yield test_client


def call(client: TestClient, cid: str, turns: list[tuple[str, str]], *, caller: str = ANN, ago: int = 100,
         **kw: Any) -> None:
    payload = builders.transcription(conversation_id=cid, caller=caller, turns=turns,
                                     start_time=int(time.time()) - ago, **kw)
    assert post_signed(client, payload).status_code == 200


def test_admin_routes_need_the_admin_key_never_the_workspace_key(api, tmp_path, embedder):
    for method, path in (("GET", "/admin/callers"), ("GET", "/admin/caller?number=1"), ("GET", "/admin/dead"),
                         ("POST", "/admin/caller/erase"), ("DELETE", "/admin/memories/x"), ("GET", "/metrics"),
                         ("GET", "/admin/audit"), ("POST", "/admin/retention/run")):
        for headers in ({}, auth(), {"Authorization": f"Bearer {WORKSPACE_KEY}"}, {"X-Admin-Key": ADMIN_KEY + "x"}):
            response = api.request(method, path, headers=headers)
            assert response.status_code == 401, (path, headers)
    ok = api.get("/admin/callers", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert ok.status_code == 200
    assert ok.json() == {"callers": [], "next_offset": None}
    no_key = build(make_settings(tmp_path / "other"), embedder=embedder, with_worker=False)
    with TestClient(create_app(no_key)) as closed:
        response = closed.get("/admin/callers", headers=admin())
        assert response.status_code == 401
        assert "disabled" in response.json()["error"]
        assert closed.get("/metrics").status_code == 200  # no admin key set: metrics are open
    no_key.close()


def test_callers_memories_and_audit_over_http(api, admin_deps):
    worker = admin_deps.make_worker()
    call(api, "conv_a1", [("user", "Hi, this is Liz. I prefer oat milk in my latte.")], ago=200)
    call(api, "conv_a2", [("user", "Switch me to almond milk instead of oat, please.")], ago=100)
    call(api, "conv_b1", [("user", "Hi, I'm Bob, I like tea.")], caller="+14155550199")
    drain(worker)
    listed = api.get("/admin/callers", params={"q": "(415) 555-0142"}, headers=admin()).json()["callers"]
    assert [c["number"] for c in listed] == [ANN]
    assert [c["first_name"] for c in api.get("/admin/callers", params={"name": "bo"}, headers=admin())
            .json()["callers"]] == ["Bob"]
    assert api.get("/admin/callers", params={"limit": 0}, headers=admin()).status_code == 400
    shown = api.get("/admin/caller", params={"number": "415.555.0142", "transcripts": True}, headers=admin()).json()
    assert shown["caller"]["first_name"] == "Liz"
    assert any(len(chain) == 2 for chain in shown["slots"].values())
    assert shown["calls"][0]["transcript"][0]["role"] == "user"
    assert api.get("/admin/caller", params={"number": "+14155550000"}, headers=admin()).status_code == 404
    assert api.get("/admin/caller", params={"number": "nope"}, headers=admin()).status_code == 400

    renamed = api.put("/admin/caller/name", json={"number": ANN, "name": "Elizabeth"}, headers=admin())
    assert renamed.json()["name_source"] == "operator"
    card = api.post("/client-data", json={"caller_id": ANN}, headers=auth()).json()
    assert card["dynamic_variables"]["caller_name"] == "Elizabeth"
    assert api.put("/admin/caller/name", json={"number": ANN}, headers=admin()).status_code == 400

    active = next(m for m in shown["memories"] if m["status"] == "active" and "almond" in m["text"])
    edited = api.patch(f"/admin/memories/{active['id']}", json={"text": "Prefers soy milk"}, headers=admin())
    assert edited.status_code == 200
    found = api.post("/retrieve", json={"query": "which milk", "user_id": ANN}, headers=auth()).json()["memories"]
    texts = [m["memory"] for m in found]
    assert "Prefers soy milk" in texts
    assert not any(t.startswith("Prefers almond") for t in texts)
    assert api.delete(f"/admin/memories/{edited.json()['memory']['id']}", headers=admin()).status_code == 200
    assert api.delete("/admin/memories/mem_missing", headers=admin()).status_code == 404

    events = api.get("/admin/audit", headers=admin()).json()["events"]
    assert [e["action"] for e in events[:3]] == ["memories.delete", "memories.edit", "callers.rename"]
    assert events[0]["actor"].endswith("/alice")
    assert events[0]["caller_ref"].startswith("c_")
    assert "4155550142" not in json.dumps(events)


def test_erase_over_http_removes_the_caller_and_keeps_the_other(api, admin_deps):
    worker = admin_deps.make_worker()
    call(api, "conv_e1", [("user", "Hi, this is Liz. I prefer oat milk in my latte.")])
    call(api, "conv_e2", [("user", "Hi, I'm Bob, I prefer oat milk too.")], caller="+14155550199")
    drain(worker)
    call(api, "conv_e3", [("user", "Liz again, one more oat latte.")], ago=10)  # queued, not processed
    erased = api.post("/admin/caller/erase", json={"number": "(415) 555-0142"}, headers=admin())
    assert erased.status_code == 200
    counts = erased.json()["counts"]
    assert (counts["profile"], counts["conversations"], counts["unprocessed_webhooks"]) == (1, 1, 1)
    assert counts["memories"] >= 1
    assert "4155550142" not in erased.text
    assert api.get("/admin/caller", params={"number": ANN}, headers=admin()).status_code == 404
    assert [c["number"] for c in api.get("/admin/callers", headers=admin()).json()["callers"]] == ["+14155550199"]
    assert api.post("/admin/caller/erase", json={"number": ANN}, headers=admin()).status_code == 404
    gone = api.post("/retrieve", json={"query": "oat milk", "user_id": ANN}, headers=auth()).json()
    assert gone["memories"] == []
    kept = api.post("/retrieve", json={"query": "oat milk", "user_id": "+14155550199"}, headers=auth()).json()
    assert kept["memories"]
    assert drain(worker) == 0  # the erased webhook is a tombstone, never processed
    actions = [e["action"] for e in api.get("/admin/audit", headers=admin()).json()["events"]]
    assert "callers.erase" in actions


def test_dead_letters_over_http_and_health_counts_them(api, admin_deps):
    worker = admin_deps.make_worker()
    assert post_signed(api, {"type": "post_call_audio", "data": {"conversation_id": "conv_bad_audio",
                                                                 "full_audio": "%%%"}}).status_code == 200
    drain(worker)
    assert api.get("/health").json()["queue"]["dead"] == 1
    [job] = api.get("/admin/dead", headers=admin()).json()["jobs"]
    assert job["event_type"] == "post_call_audio"
    assert "base64" in job["error"]
    assert api.get(f"/admin/dead/{job['id']}", headers=admin()).json()["conversation_id"] == "conv_bad_audio"
    assert api.get("/admin/dead/424242", headers=admin()).status_code == 404
    assert api.post("/admin/dead/replay", json={"ids": [job["id"]]}, headers=admin()).json() == {"replayed": 1}
    assert api.get("/health").json()["queue"] == {"pending": 1, "dead": 0}
    drain(worker)
    assert api.post("/admin/dead/replay", json={"ids": [424242]}, headers=admin()).status_code == 404
    assert api.post("/admin/dead/purge", json={}, headers=admin()).json() == {"purged": 1}
    assert api.get("/health").json()["queue"]["dead"] == 0
    assert api.post("/admin/dead/purge", content=b"{bad", headers=admin()).status_code == 400


def test_metrics_scrape_parses_with_the_librarys_parser(api, admin_deps):
    worker = admin_deps.make_worker()
    call(api, "conv_m1", [("user", "Hi, I'm Ann and I prefer oat milk.")])
    drain(worker)
    api.post("/client-data", json={"caller_id": ANN}, headers=auth())
    api.post("/retrieve", json={"query": "milk", "user_id": ANN}, headers=auth())
    response = api.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("agentic_memory_http_request_duration_seconds_count",
                    (("method", "POST"), ("route", "/client-data"), ("status", "200")))] == 1
    assert samples[("agentic_memory_webhook_acks_total", (("status", "200"),))] == 1
    assert samples[("agentic_memory_queue_jobs", (("state", "done"),))] == 1
    assert samples[("agentic_memory_callers", ())] == 1
    assert samples[("agentic_memory_memories", (("type", "factual"),))] >= 1
    assert samples[("agentic_memory_job_duration_seconds_count",
                    (("event_type", "post_call_transcription"), ("outcome", "done")))] == 1
    assert samples[("agentic_memory_embedding_seconds_count", ())] >= 2
    assert ("agentic_memory_dead_letters", ()) in samples
    api.get("/admin/caller", params={"number": ANN}, headers=admin())
    again = {s.labels.get("route") for f in text_string_to_metric_families(
        api.get("/metrics", headers=admin()).text) for s in f.samples}
    assert "/admin/caller" in again
    assert not any(r and "4155550142" in r for r in again)


def test_doctor_backup_and_export_over_http(api, admin_deps):
    call(api, "conv_x1", [("user", "Hi, I'm Ann and I prefer oat milk.")])
    drain(admin_deps.make_worker())
    doctor = api.get("/admin/doctor", headers=admin()).json()
    assert doctor["ok"]
    assert {c["name"] for c in doctor["checks"]} >= {"database", "model", "keys"}
    made = api.post("/admin/backup", json={"name": "nightly-1"}, headers=admin())
    if admin_deps.settings.database_url.get_secret_value():  # PostgreSQL: pg_dump's job, said clearly
        assert made.status_code == 409
        assert "pg_dump" in made.json()["error"]
    else:
        assert made.status_code == 200
        assert (admin_deps.settings.data_dir / "backups" / "nightly-1.tar.gz").is_file()
    for bad in ("../escape", "/etc/x", "", "a/b"):
        assert api.post("/admin/backup", json={"name": bad}, headers=admin()).status_code == 400, bad
    exported = api.get("/admin/export", headers=admin())
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    assert rows
    assert all(r["caller"] == ANN for r in rows)
    assert any("oat" in r["text"] for r in rows)
