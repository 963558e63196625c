"""The worker path on in-memory fakes: idempotency, supersession, profiles, retries, dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agentic_memory.bootstrap import local_engine
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.elevenlabs import builders
from agentic_memory.ports import Job
from agentic_memory.services.process_call import WorkerDeps, process_job
from agentic_memory.testing import (
    FixedClock,
    HashEmbedder,
    InMemoryBlobStore,
    InMemoryJobQueue,
    InMemoryMemoryStore,
)
from agentic_memory.worker import Worker

T0 = 1767225600
CALLER = "+16129782029"


def deps():
    store = InMemoryMemoryStore()
    return WorkerDeps(store=store, blobs=InMemoryBlobStore(), engine=local_engine(store, HashEmbedder()),
                      extractor=RuleFactExtractor(), clock=FixedClock())


def job(payload, job_id=1):
    return Job(id=job_id, event_type=payload.get("type", "post_call_transcription"),
               conversation_id=payload.get("data", payload).get("conversation_id"),
               body=json.dumps(payload).encode(), attempts=1, received_at=datetime.fromtimestamp(T0, UTC))


def transcript(cid, turns, *, start=T0, **kw):
    return builders.transcription(conversation_id=cid, caller=CALLER, turns=turns, start_time=start, **kw)


def facts(d):
    return sorted(m.text for m, _ in d.store.load_call("unseen", CALLER).active_facts)


def test_processing_twice_changes_nothing():
    d = deps()
    payload = transcript("c1", [("user", "My name is Stefan and I prefer oat milk.")], summary="Oat milk fan.")
    process_job(job(payload), d)
    before = (facts(d), d.store.caller(CALLER))
    assert process_job(job(payload), d).summary == "already processed"
    assert (facts(d), d.store.caller(CALLER)) == before
    assert before[1].call_count == 1
    assert before[1].first_name == "Stefan"


def test_a_changed_preference_supersedes_the_old_one_and_a_late_old_call_does_not_undo_it():
    d = deps()
    process_job(job(transcript("c1", [("user", "I prefer oat milk in my latte.")])), d)
    process_job(job(transcript("c2", [("user", "Switch me to almond milk instead of oat, please.")],
                               start=T0 + 86400)), d)
    assert not any("oat milk in" in f for f in facts(d))
    assert any("almond" in f for f in facts(d))
    # A call from before both, delivered late, must not bring oat milk back as current.
    process_job(job(transcript("c0", [("user", "I prefer soy milk.")], start=T0 - 86400)), d)
    assert not any("soy" in f for f in facts(d))
    assert d.store.caller(CALLER).call_count == 3


def test_repeated_facts_do_not_pile_up():
    d = deps()
    for i in range(3):
        process_job(job(transcript(f"c{i}", [("user", "My order number is A-48213.")], start=T0 + i)), d)
    assert [f for f in facts(d) if "A-48213" in f] == ["Caller's order number is A-48213."]


def test_web_calls_use_the_user_id_and_unknown_callers_are_kept_without_memories():
    d = deps()
    web = builders.transcription(conversation_id="w1", caller=None, user_id="+447700900123",
                                 turns=[("user", "This is Priya.")], start_time=T0)
    process_job(job(web), d)
    assert d.store.caller("+447700900123").first_name == "Priya"
    anonymous = builders.transcription(conversation_id="w2", caller=None, turns=[("user", "hi")], start_time=T0)
    anonymous["data"]["conversation_initiation_client_data"]["dynamic_variables"].pop("system__caller_id", None)
    assert "without caller" in process_job(job(anonymous), d).summary
    assert d.store.load_call("w2", None).processed


def test_worker_retries_failures_then_dead_letters_them():
    queue = InMemoryJobQueue()
    clock = FixedClock()
    broken = deps()

    class Exploding(HashEmbedder):
        def embed(self, texts):  # noqa: ARG002 - the Embedder port's signature
            raise RuntimeError("model crashed")

    broken = WorkerDeps(store=broken.store, blobs=broken.blobs, engine=local_engine(broken.store, Exploding()),
                        extractor=RuleFactExtractor(), clock=clock)
    worker = Worker(queue, broken, max_attempts=3)
    body = json.dumps(transcript("c1", [("user", "hello there")])).encode()
    queue.accept(event_type="post_call_transcription", conversation_id="c1", body=body,
                 received_at=clock.now()).result()
    queue.accept(event_type="post_call_transcription", conversation_id="c2", body=b"{oops",
                 received_at=clock.now()).result()
    for _ in range(3):
        assert worker.run_once()
        clock.advance(3600)
    while worker.run_once():
        clock.advance(3600)
    stats = queue.stats()
    assert (stats.pending, stats.dead) == (0, 2)
    assert all(row.error for row in queue.rows.values())


def test_unicode_case_folding_oddities_do_not_crash_extraction():
    # Python's case-insensitive "i" also matches the Turkish dotless "ı" and dotted "İ".  # noqa: RUF003 - on purpose
    d = deps()
    process_job(job(transcript("c1", [("user", "I like ı coffee and İ my tea, ı'm ok.")])), d)  # noqa: RUF001 - on purpose
    assert d.store.caller(CALLER).call_count == 1


def test_a_seed_call_without_a_time_falls_in_arrival_order_among_dated_calls():
    """A replay of old calls: the flat seed format has no time, so it lands just after the newest call on
    record, not on the replay's date (which would put it after every dated call that follows it)."""
    d = deps()
    process_job(job(transcript("c1", [("user", "I prefer oat milk in my latte.")], start=T0 - 30 * 86400)), d)
    seed = builders.seed(conversation_id="s2", caller=CALLER, turns=[("user", "I prefer soy milk in my latte.")])
    process_job(job(seed, job_id=2), d)
    assert d.store.caller(CALLER).last_seen == datetime.fromtimestamp(T0 - 30 * 86400 + 1, UTC)
    assert any("soy" in f for f in facts(d))
    process_job(job(transcript("c3", [("user", "Switch me to almond milk instead of soy, please.")],
                               start=T0 - 20 * 86400), job_id=3), d)
    assert [f for f in facts(d) if "milk" in f] == ["Caller switched to almond milk instead of soy."]
    assert d.store.caller(CALLER).last_seen == datetime.fromtimestamp(T0 - 20 * 86400, UTC)


def test_a_first_call_without_a_time_on_an_empty_store_is_dated_on_arrival():
    d = deps()
    process_job(job(builders.seed(conversation_id="s1", caller=CALLER, turns=[("user", "Hi, this is Priya.")])), d)
    assert d.store.caller(CALLER).last_seen == datetime.fromtimestamp(T0, UTC)
