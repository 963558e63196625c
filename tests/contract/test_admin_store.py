"""The AdminStore contract, run against the shipped fake and the SQLite and PostgreSQL adapters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentic_memory.domain.models import CallerProfile, Memory
from agentic_memory.ports import DELETED, AuditEvent, CallerQuery, CallUpdate, MemoryChange, StoredMemory
from agentic_memory.services.admin import active_facts
from agentic_memory.testing import HashEmbedder, InMemoryAdminStore, InMemoryJobQueue, InMemoryMemoryStore
from tests.contract.backends import ADAPTERS, database, job_queue

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EMBED = HashEmbedder()
ANN, BOB = "+15550100001", "+15550100002"


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def stores(request, tmp_path):
    if request.param == "fake":
        store, queue = InMemoryMemoryStore(), InMemoryJobQueue()
        yield store, queue, InMemoryAdminStore(store, queue)
        return
    kind = request.param
    with database(kind, request, tmp_path / "a.sqlite3") as db, job_queue(kind, db) as queue:
        yield ADAPTERS[kind][0](db), queue, ADAPTERS[kind][2](db)


def memory(mid, caller, text, *, type="factual", slot=None, at=T0, conversation="conv_1"):
    return Memory(id=mid, caller_id=caller, type=type, text=text, conversation_id=conversation, agent_id="a",
                  created_at=at, category="preference" if type == "factual" else "transcript", slot=slot)


def save(store, conversation, caller, memories, *, at=T0, superseded=(), name="", files=None):
    profile = CallerProfile(caller_id=caller, first_seen=at, last_seen=at, call_count=1, first_name=name,
                            name_source="self_introduction" if name else "", memory_count=len(memories))
    store.save_call(CallUpdate(conversation_id=conversation, caller_id=caller, agent_id="a", started_at=at,
                               profile=profile, new_memories=[StoredMemory(m, EMBED.embed([m.text])[0])
                                                              for m in memories],
                               superseded=list(superseded), files=files or {}))


def test_find_callers_by_number_digits_name_and_last_seen_paginated(stores):
    store, _, admin = stores
    save(store, "c1", ANN, [], name="Ann", at=T0)
    save(store, "c2", BOB, [], name="Bob", at=T0 + timedelta(days=1))
    assert [p.caller_id for p in admin.find_callers(CallerQuery())] == [BOB, ANN]
    assert [p.caller_id for p in admin.find_callers(CallerQuery(number=ANN))] == [ANN]
    assert [p.caller_id for p in admin.find_callers(CallerQuery(digits="0100002"))] == [BOB]
    assert [p.caller_id for p in admin.find_callers(CallerQuery(name="an"))] == [ANN]
    assert [p.caller_id for p in admin.find_callers(CallerQuery(seen_after=T0 + timedelta(hours=1)))] == [BOB]
    assert [p.caller_id for p in admin.find_callers(CallerQuery(seen_before=T0 + timedelta(hours=1)))] == [ANN]
    assert [p.caller_id for p in admin.find_callers(CallerQuery(limit=1, offset=1))] == [ANN]


def test_history_edit_and_delete_keep_old_memories_out_of_search(stores):
    store, _, admin = stores
    save(store, "c1", ANN, [memory("m1", ANN, "prefers oat milk", slot="preference:milk"),
                            memory("m2", ANN, "likes jazz")])
    save(store, "c2", ANN, [memory("m3", ANN, "prefers soy milk", slot="preference:milk", conversation="c2",
                                   at=T0 + timedelta(days=1))], superseded=[("m1", "m3")])
    edited = memory("m4", ANN, "prefers almond milk", slot="preference:milk", conversation="c2",
                    at=T0 + timedelta(days=2))
    assert admin.change_memory(MemoryChange(ANN, "m3", T0 + timedelta(days=2), "operator_edit",
                                            StoredMemory(edited, EMBED.embed([edited.text])[0]), ("almond",)))
    assert admin.change_memory(MemoryChange(ANN, "m2", T0 + timedelta(days=2), "operator_delete", None,
                                            ("almond",)))
    assert not admin.change_memory(MemoryChange(ANN, "m2", T0, "operator_delete", None, ()))  # not active
    assert not admin.change_memory(MemoryChange(BOB, "m4", T0, "operator_delete", None, ()))  # not Bob's
    records = {r.memory.id: r for r in admin.caller_memories(ANN)}
    assert [records[i].superseded_by for i in ("m1", "m2", "m3", "m4")] == ["m3", DELETED, "m4", None]
    assert records["m3"].retired_reason == "operator_edit"
    assert records["m2"].retired_at == T0 + timedelta(days=2)
    assert [m.id for m in active_facts(store, ANN)] == ["m4"]
    assert store.keyword_search(ANN, ["jazz"], limit=5, type=None) == []
    assert [i for i, _ in store.keyword_search(ANN, ["almond"], limit=5, type=None)] == ["m4"]
    profile = store.caller(ANN)
    assert profile.memory_count == 1
    assert profile.top_facts == ("almond",)


def test_set_name_and_calls(stores):
    store, _, admin = stores
    save(store, "c1", ANN, [], name="Liz", files={"transcript": "calls/c1/transcript.json"})
    assert admin.set_name(ANN, "Elizabeth", source="operator")
    assert not admin.set_name(BOB, "Bob", source="operator")
    assert (store.caller(ANN).first_name, store.caller(ANN).name_source) == ("Elizabeth", "operator")
    [call] = admin.caller_calls(ANN)
    assert (call.conversation_id, call.files) == ("c1", {"transcript": "calls/c1/transcript.json"})


def test_erase_removes_the_caller_and_tombstones_their_webhooks(stores):
    store, queue, admin = stores
    for cid in ("c1", "c_pending"):
        queue.accept(event_type="post_call_transcription", conversation_id=cid, body=b'{"x": "+15550100001"}',
                     received_at=T0).result()
    queue.accept(event_type="post_call_transcription", conversation_id="c_bob", body=b"bob", received_at=T0).result()
    save(store, "c1", ANN, [memory("m1", ANN, "prefers oat milk")], files={"payload": "calls/c1/p.json"})
    save(store, "c_bob", BOB, [memory("b1", BOB, "prefers oat milk", conversation="c_bob")])
    assert [cid for cid, _ in admin.pending_bodies("post_call_transcription")] == ["c1", "c_pending", "c_bob"]
    rows = admin.erase_caller(ANN, conversation_ids=["c_pending"])
    assert (rows.profile, rows.conversations, rows.memories, rows.inbox) == (1, 1, 1, 2)
    assert rows.file_keys == ("calls/c1/p.json",)
    assert store.caller(ANN) is None
    assert admin.caller_memories(ANN) == []
    assert admin.caller_calls(ANN) == []
    assert store.load_call("c1", ANN).processed is False
    assert store.keyword_search(ANN, ["oat"], limit=5, type=None) == []
    assert [i for i, _ in store.keyword_search(BOB, ["oat"], limit=5, type=None)] == ["b1"]
    erased = admin.inbox(status="erased", limit=10, offset=0)
    assert sorted(e.conversation_id for e in erased) == ["c1", "c_pending"]
    assert all(e.body_bytes == 0 for e in erased)
    assert not queue.accept(event_type="post_call_transcription", conversation_id="c1", body=b"again",
                            received_at=T0).result()  # a retried webhook stays a no-op
    assert queue.claim(worker="w", now=T0, lease_secs=5).conversation_id == "c_bob"
    admin.compact()


def test_dead_letters_list_requeue_purge(stores):
    _, queue, admin = stores
    for cid in ("a", "b", "c"):
        queue.accept(event_type="post_call_transcription", conversation_id=cid, body=b"{}", received_at=T0).result()
    for _ in range(3):
        job = queue.claim(worker="w", now=T0, lease_secs=5)
        queue.bury(job.id, lease=job.lease, error=f"boom {job.conversation_id}")
    dead = admin.inbox(status="dead", limit=2, offset=0)
    assert [e.conversation_id for e in dead] == ["c", "b"]
    assert admin.inbox_entry(dead[0].id).last_error == "boom c"
    assert admin.inbox_entry(999) is None
    assert admin.requeue([dead[0].id], now=T0) == 1
    entry = admin.inbox_entry(dead[0].id)
    assert (entry.status, entry.attempts) == ("queued", 0)
    assert admin.purge([dead[1].id]) == 1
    assert admin.inbox_entry(dead[1].id) is None
    assert admin.requeue(None, now=T0) == 1
    assert admin.purge(None) == 0
    assert admin.totals().inbox == {"queued": 2}


def test_expiry_of_bodies_files_memories_and_inactive_callers(stores):
    store, queue, admin = stores
    queue.accept(event_type="post_call_transcription", conversation_id="c1", body=b"old", received_at=T0).result()
    job = queue.claim(worker="w", now=T0, lease_secs=5)
    assert job is not None
    assert queue.complete(job.id, lease=job.lease)
    save(store, "c1", ANN, [memory("m1", ANN, "prefers oat milk"),
                            memory("s1", ANN, "Caller: hello", type="semantic")],
         files={"transcript": "calls/c1/transcript.json", "audio": "calls/c1/audio.mp3"})
    save(store, "c2", BOB, [memory("b1", BOB, "likes tea", conversation="c2", at=T0 + timedelta(days=10))],
         at=T0 + timedelta(days=10))
    cutoff = T0 + timedelta(days=5)
    assert admin.expire_bodies(cutoff) == 1
    assert admin.inbox(status="done", limit=1, offset=0)[0].body_bytes == 0
    assert admin.expire_files(["audio"], cutoff) == ["calls/c1/audio.mp3"]
    assert admin.caller_calls(ANN)[0].files == {"transcript": "calls/c1/transcript.json"}
    assert admin.expire_memories("semantic", cutoff) == {ANN: 1}
    assert admin.expire_memories("factual", cutoff) == {ANN: 1}
    admin.refresh_profile(ANN, ())
    assert store.caller(ANN).memory_count == 0
    assert [i for i, _ in store.keyword_search(BOB, ["tea"], limit=5, type=None)] == ["b1"]
    assert admin.inactive_callers(cutoff, limit=10) == [ANN]
    totals = admin.totals()
    assert (totals.callers, totals.memories) == (2, {"factual": 1, "semantic": 0})


def test_audit_events_newest_first(stores):
    _, _, admin = stores
    for i in range(3):
        admin.record_audit(AuditEvent(at=T0 + timedelta(seconds=i), actor="key:ab", action=f"a{i}",
                                      caller_ref="c_x", detail={"n": i}))
    events = admin.audit_events(limit=2)
    assert [e.action for e in events] == ["a2", "a1"]
    assert events[0].detail == {"n": 2}
    assert events[0].at == T0 + timedelta(seconds=2)
    assert [e.action for e in admin.audit_events(limit=5, offset=2)] == ["a0"]


def test_activity_counts_calls_per_day_new_callers_latencies_and_memories_per_caller(stores):
    store, queue, admin = stores
    day = timedelta(days=1)
    save(store, "c1", ANN, [memory("m1", ANN, "a", conversation="c1"), memory("m2", ANN, "b", conversation="c1")])
    save(store, "c2", ANN, [], at=T0 + day)
    save(store, "c3", BOB, [memory("m3", BOB, "c", conversation="c3")], at=T0 + day)
    save(store, "c0", BOB, [], at=T0 - 3 * day)  # before the window: BOB is not new on day 2
    activity = admin.activity(T0)
    assert [(d.day, d.calls, d.callers, d.new_callers) for d in activity.days] == [
        ("2026-01-01", 1, 1, 1), ("2026-01-02", 2, 2, 0)]
    assert sum(activity.memories_per_caller.values()) == 2
    assert admin.activity(T0 + 2 * day).days == []
    received = datetime.now(UTC) - timedelta(seconds=5)
    queue.accept(event_type="post_call_transcription", conversation_id="c9", body=b"{}", received_at=received).result()
    job = queue.claim(worker="w", now=received, lease_secs=60)
    assert queue.complete(job.id, lease=job.lease)
    (finished, secs), = admin.activity(received - day).latencies
    assert 4 <= secs < 60
    assert finished >= received
    assert admin.activity(datetime.now(UTC) + day).latencies == []
