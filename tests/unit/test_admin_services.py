"""The operator's services on the shipped fakes: name precedence, edits, erasure, dead letters, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agentic_memory.adapters.local_engine import LocalMemoryEngine
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.domain.name_source import may_replace
from agentic_memory.elevenlabs import builders
from agentic_memory.errors import InvalidInput, NotFound
from agentic_memory.services import admin, dead_letters, erasure, retention
from agentic_memory.services.admin import AdminDeps, active_facts
from agentic_memory.services.process_call import WorkerDeps
from agentic_memory.testing import (
    FixedClock,
    HashEmbedder,
    InMemoryAdminStore,
    InMemoryBlobStore,
    InMemoryJobQueue,
    InMemoryMemoryStore,
)
from agentic_memory.worker import Worker

T0 = 1767225600
ANN = "+16129782029"
SECRET = "s" * 32


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(datetime.fromtimestamp(T0, UTC))
        self.store, self.queue, self.blobs = InMemoryMemoryStore(), InMemoryJobQueue(), InMemoryBlobStore()
        self.admin = InMemoryAdminStore(self.store, self.queue)
        self.engine = LocalMemoryEngine(self.store, HashEmbedder())
        self.worker_deps = WorkerDeps(store=self.store, blobs=self.blobs, engine=self.engine,
                                      extractor=RuleFactExtractor(), clock=self.clock)
        self.ops = AdminDeps(admin=self.admin, store=self.store, blobs=self.blobs, embedder=HashEmbedder(),
                             clock=self.clock, ref_secret=SECRET, engine=self.engine)

    def call(self, cid: str, turns: list[tuple[str, str]], *, day: int = 0, caller: str = ANN, **kw: object) -> None:
        payload = builders.transcription(conversation_id=cid, caller=caller, turns=turns,
                                         start_time=T0 + day * 86400, **kw)
        self.queue.accept(event_type="post_call_transcription", conversation_id=cid,
                          body=json.dumps(payload).encode(), received_at=self.clock.now()).result()
        worker = Worker(self.queue, self.worker_deps)
        while worker.run_once():
            pass


@pytest.fixture
def world() -> World:
    return World()


def test_name_precedence_rule():
    assert may_replace("data_collection:name", "self_introduction")
    assert may_replace("operator", "self_introduction")
    assert may_replace("operator", "correction")
    assert not may_replace("operator", "data_collection:caller_name")
    assert not may_replace("operator", "summary")


def test_an_operator_name_beats_data_collection_until_the_caller_introduces_themselves(world):
    world.call("c1", [("user", "Hi, this is Liz, I prefer oat milk.")])
    assert world.store.caller(ANN).first_name == "Liz"
    fixed = admin.rename_caller(world.ops, "(612) 978-2029", "Elizabeth", actor="ops")
    assert (fixed["first_name"], fixed["name_source"]) == ("Elizabeth", "operator")
    world.call("c2", [("user", "Just a latte today.")], day=1, data={"caller_name": "Liz"})
    assert world.store.caller(ANN).first_name == "Elizabeth"
    world.call("c3", [("user", "Hi, my name is Beth now.")], day=2)
    assert (world.store.caller(ANN).first_name, world.store.caller(ANN).name_source) == ("Beth", "self_introduction")


def test_show_lists_memories_with_slot_history_and_calls(world):
    world.call("c1", [("user", "I prefer oat milk in my latte.")], summary="Oat milk fan.")
    world.call("c2", [("user", "Switch me to almond milk instead of oat, please.")], day=1)
    doc = admin.show_caller(world.ops, "+1 612 978 2029", actor="ops", transcripts=True)
    assert doc["caller"]["number"] == ANN
    assert doc["caller"]["caller_ref"].startswith("c_")
    statuses = {m["text"]: m["status"] for m in doc["memories"] if m["type"] == "factual"}
    assert "superseded" in statuses.values()
    assert "active" in statuses.values()
    [chain] = [c for c in doc["slots"].values() if len(c) == 2]
    assert [i["status"] for i in chain] == ["superseded", "active"]
    assert chain[0]["superseded_by"] == chain[1]["id"]
    old = next(m for m in doc["memories"] if m["id"] == chain[0]["id"])
    assert old["replaced_in_call"] == "c2"
    assert old["retired_at"] is not None
    assert [c["conversation_id"] for c in doc["calls"]] == ["c2", "c1"]
    assert doc["calls"][1]["summary"] == "Oat milk fan."
    assert doc["calls"][1]["transcript"][0]["message"] == "I prefer oat milk in my latte."


def test_list_search_and_every_action_is_audited_without_the_number(world):
    world.call("c1", [("user", "Hi, I'm Ann.")])
    world.call("c2", [("user", "Hi, I'm Bob.")], caller="+16129780000")
    assert [c["first_name"] for c in admin.list_callers(world.ops, actor="ops")["callers"]] == ["Bob", "Ann"]
    assert [c["number"] for c in admin.list_callers(world.ops, actor="ops", query="612-978-2029")["callers"]] == [ANN]
    assert len(admin.list_callers(world.ops, actor="ops", query="978")["callers"]) == 2
    assert [c["first_name"] for c in admin.list_callers(world.ops, actor="ops", name="bo")["callers"]] == ["Bob"]
    page = admin.list_callers(world.ops, actor="ops", limit=1)
    assert page["next_offset"] == 1
    with pytest.raises(InvalidInput):
        admin.list_callers(world.ops, actor="ops", query="abc")
    admin.show_caller(world.ops, ANN, actor="ops")
    events = admin.audit_log(world.ops)["events"]
    assert [e["action"] for e in events][:2] == ["callers.show", "callers.list"]
    assert events[0]["caller_ref"] == admin.show_caller(world.ops, ANN, actor="x")["caller"]["caller_ref"]
    assert "6129782029" not in json.dumps(events)


def test_edit_and_delete_memory_keep_history_and_refresh_the_profile(world):
    world.call("c1", [("user", "I prefer oat milk in my latte. I'm allergic to peanuts.")])
    facts = {m.text: m for m in active_facts(world.store, ANN)}
    oat = next(m for t, m in facts.items() if "oat" in t)
    edited = admin.edit_memory(world.ops, oat.id, "Prefers soy milk", actor="ops")
    assert edited["replaces"] == oat.id
    with pytest.raises(NotFound):
        admin.edit_memory(world.ops, oat.id, "again", actor="ops")
    with pytest.raises(InvalidInput):
        admin.edit_memory(world.ops, edited["memory"]["id"], "  ", actor="ops")
    assert "Prefers soy milk" in world.store.caller(ANN).top_facts
    admin.delete_memory(world.ops, edited["memory"]["id"], actor="ops")
    texts = [m.text for m in active_facts(world.store, ANN)]
    assert not any("soy" in t or "oat" in t for t in texts)
    statuses = {m["text"]: m["status"] for m in admin.show_caller(world.ops, ANN, actor="ops")["memories"]}
    assert statuses[oat.text] == "edited"
    assert statuses["Prefers soy milk"] == "deleted"
    with pytest.raises(NotFound):
        admin.delete_memory(world.ops, "mem_nope", actor="ops")


def test_erase_removes_profile_memories_files_and_unprocessed_webhooks_but_not_other_callers(world):
    world.call("c1", [("user", "I'm Ann, I prefer oat milk.")])
    world.call("c_bob", [("user", "Please call Ann back at 612 978 2029.")], caller="+16129780000")
    pending = builders.transcription(conversation_id="c_pending", caller=ANN, turns=[("user", "hello")],
                                     start_time=T0)
    world.queue.accept(event_type="post_call_transcription", conversation_id="c_pending",
                       body=json.dumps(pending).encode(), received_at=world.clock.now()).result()
    receipt = erasure.erase_caller(world.ops, "612.978.2029", actor="ops")
    assert receipt["counts"]["profile"] == 1
    assert receipt["counts"]["unprocessed_webhooks"] == 1
    assert receipt["counts"]["files"] == 2
    assert receipt["caller_ref"].startswith("c_")
    assert world.store.caller(ANN) is None
    assert all("c1/" not in key for key in world.blobs.blobs)
    assert any("c_bob/" in key for key in world.blobs.blobs)  # Bob said the number: his call stays
    held = json.dumps([r.job.body.decode() for r in world.queue.rows.values()])
    assert "+16129782029" not in held
    with pytest.raises(NotFound):
        erasure.erase_caller(world.ops, ANN, actor="ops")
    assert world.admin.audit_events(limit=1)[0].action == "callers.erase"


def test_export_holds_profile_memories_and_transcripts(world):
    world.call("c1", [("user", "I'm Ann, I prefer oat milk.")])
    doc = erasure.export_caller(world.ops, ANN, actor="ops")
    assert doc["caller"]["first_name"] == "Ann"
    assert doc["calls"][0]["transcript"][0]["message"] == "I'm Ann, I prefer oat milk."
    assert doc["calls"][0]["payload"]["data"]["conversation_id"] == "c1"
    assert any("oat" in m["text"] for m in doc["memories"])


def test_dead_letters_list_show_replay_purge(world):
    world.queue.accept(event_type="post_call_transcription", conversation_id="bad", body=b"{not json",
                       received_at=world.clock.now()).result()
    Worker(world.queue, world.worker_deps).run_once()
    [job] = dead_letters.list_jobs(world.ops, actor="ops")["jobs"]
    assert job["status"] == "dead"
    assert "invalid payload" in job["error"]
    assert job["conversation_id"] == "bad"
    assert dead_letters.show_job(world.ops, job["id"], actor="ops")["attempts"] == 1
    assert dead_letters.replay(world.ops, [job["id"]], actor="ops") == {"replayed": 1}
    assert world.queue.stats().pending == 1
    Worker(world.queue, world.worker_deps).run_once()
    assert dead_letters.purge(world.ops, None, actor="ops") == {"purged": 1}
    assert world.queue.stats().dead == 0
    with pytest.raises(NotFound):
        dead_letters.show_job(world.ops, job["id"], actor="ops")
    with pytest.raises(InvalidInput):
        dead_letters.list_jobs(world.ops, actor="ops", status="weird")


def test_retention_sweeper_follows_the_injected_clock(world):
    world.call("c1", [("user", "I'm Ann, I prefer oat milk.")])
    world.blobs.put("calls/c1/audio.mp3", b"ID3")
    world.store.link_file("c1", "audio", "calls/c1/audio.mp3")
    world.call("c2", [("user", "I'm Bo, I like tea.")], caller="+16129780000", day=40)
    sweeper = retention.Sweeper(world.ops, {"audio": 30, "semantic": 30, "inactive_callers": 60},
                                interval_secs=3600)
    world.clock.advance(20 * 86400)
    assert sweeper.maybe_run() == {"audio": 0, "semantic": 0, "inactive_callers": 0}
    assert sweeper.maybe_run() is None  # not due again within the interval
    world.clock.advance(15 * 86400)
    removed = sweeper.maybe_run()
    assert removed["audio"] == 1
    assert removed["semantic"] >= 1
    assert removed["inactive_callers"] == 0
    assert "calls/c1/audio.mp3" not in world.blobs.blobs
    assert [m.type for m, _, _ in world.store.rows.values() if m.caller_id == ANN] == ["factual"]
    assert world.store.caller(ANN).memory_count == 1
    world.clock.advance(30 * 86400)
    assert sweeper.maybe_run()["inactive_callers"] == 1
    assert world.store.caller(ANN) is None
    assert world.store.caller("+16129780000") is not None
    with pytest.raises(ValueError, match="unknown retention kinds"):
        retention.run_retention(world.ops, {"forever": 1})


def test_worker_runs_the_sweeper_when_idle(world):
    world.call("c1", [("user", "I prefer oat milk.")])
    world.clock.advance(10 * 86400)
    worker = Worker(world.queue, world.worker_deps, sweeper=retention.Sweeper(world.ops, {"factual": 1}))
    worker.sweep()
    assert active_facts(world.store, ANN) == []
    assert retention.policy_from(type("S", (), {"retention_audio_days": 7})()) == {"audio": 7}
    assert world.admin.audit_events(limit=1)[0].action == "retention.run"
