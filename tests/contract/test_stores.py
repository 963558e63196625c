"""One suite per port, run against the shipped fake and the real SQLite, PostgreSQL and filesystem adapters."""

from __future__ import annotations

import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agentic_memory.adapters.blobs.filesystem import FilesystemBlobStore
from agentic_memory.adapters.sqlite.database import Database
from agentic_memory.adapters.sqlite.group_commit import GroupCommit
from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore
from agentic_memory.adapters.sqlite.queue import SqliteJobQueue
from agentic_memory.domain.models import CallerProfile, Memory
from agentic_memory.errors import StorageError
from agentic_memory.ports import CallUpdate, QueueStats, StoredMemory
from agentic_memory.testing import HashEmbedder, InMemoryBlobStore, InMemoryJobQueue, InMemoryMemoryStore
from tests.contract.backends import ADAPTERS, database, job_queue

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EMBED = HashEmbedder()


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def db_kind(request):
    return request.param


@pytest.fixture
def store(db_kind, tmp_path, request):
    if db_kind == "fake":
        yield InMemoryMemoryStore()
        return
    with database(db_kind, request, tmp_path / "m.sqlite3") as db:
        yield ADAPTERS[db_kind][0](db)


@pytest.fixture
def queue(db_kind, tmp_path, request):
    if db_kind == "fake":
        yield InMemoryJobQueue()
        return
    with database(db_kind, request, tmp_path / "q.sqlite3") as db, job_queue(db_kind, db) as sql_queue:
        yield sql_queue


@pytest.fixture(params=["fake", "files", "s3"])
def blobs(request, tmp_path):
    if request.param == "s3":
        from agentic_memory.adapters.aws.s3_blobs import S3BlobStore

        server = request.getfixturevalue("aws_server")
        return S3BlobStore(server.client("s3"), server.bucket(), "tenant/a")
    return InMemoryBlobStore() if request.param == "fake" else FilesystemBlobStore(tmp_path / "files")


def memory(mid, caller, text, *, type="factual", slot=None, at=T0, conversation="conv_1"):
    return Memory(id=mid, caller_id=caller, type=type, text=text, conversation_id=conversation, agent_id="a",
                  created_at=at, category="preference" if type == "factual" else "transcript", slot=slot,
                  turn_start=0 if type == "semantic" else None, turn_end=1 if type == "semantic" else None)


def update(conversation, caller, memories, superseded=(), profile=None):
    return CallUpdate(conversation_id=conversation, caller_id=caller, agent_id="a", started_at=T0,
                      profile=profile, new_memories=[StoredMemory(m, EMBED.embed([m.text])[0]) for m in memories],
                      superseded=list(superseded))


def active_facts(store, caller):
    context = store.load_call("conv_not_yet_seen", caller)
    assert not context.processed
    return list(context.active_facts)


def test_load_call_reads_the_profile_and_facts_at_once(store):
    assert store.load_call("conv_1", "+1555") == store.load_call("conv_1", "+1555")
    empty = store.load_call("conv_1", "+1555")
    assert (empty.processed, empty.profile, tuple(empty.active_facts)) == (False, None, ())
    profile = CallerProfile(caller_id="+1555", first_seen=T0, last_seen=T0, call_count=1)
    store.save_call(update("conv_1", "+1555", [memory("m1", "+1555", "prefers oat milk")], profile=profile))
    seen = store.load_call("conv_1", "+1555")
    assert seen.processed
    fresh = store.load_call("conv_2", "+1555")
    assert not fresh.processed
    assert fresh.profile == profile
    assert [m.id for m, _ in fresh.active_facts] == ["m1"]
    assert store.load_call("conv_3", "+1999").profile is None
    assert not store.load_call("conv_3", None).processed


def test_save_call_is_applied_once_per_conversation(store):
    first = update("conv_1", "+1555", [memory("m1", "+1555", "prefers oat milk")])
    assert store.save_call(first) is True
    assert store.save_call(first) is False
    assert store.load_call("conv_1", "+1555").processed
    assert [m.id for m, _ in active_facts(store, "+1555")] == ["m1"]


def test_searches_are_scoped_to_one_caller_and_type(store):
    store.save_call(update("conv_1", "+1555", [memory("m1", "+1555", "prefers oat milk"),
                                               memory("c1", "+1555", "Caller: oat milk please", type="semantic")]))
    store.save_call(update("conv_2", "+1666", [memory("m2", "+1666", "prefers oat milk too")],))
    vector = EMBED.embed(["oat milk"])[0]
    dense = store.dense_search("+1555", vector, limit=10, type=None)
    assert {i for i, _ in dense} == {"m1", "c1"}
    assert [i for i, _ in store.dense_search("+1555", vector, limit=10, type="semantic")] == ["c1"]
    keyword = store.keyword_search("+1555", ["oat", "milk"], limit=10, type="factual")
    assert [i for i, _ in keyword] == ["m1"]
    assert store.keyword_search("+1777", ["oat"], limit=10, type=None) == []


def test_keyword_scores_are_the_domains_bm25_over_the_callers_own_memories(store):
    from agentic_memory.domain.keyword_score import Candidate, Corpus, bm25, index_terms, query_phrases

    mine = [(memory("m1", "+1555", "prefers oat milk in a large latte"), "coffee order"),
            (memory("m2", "+1555", "Caller: the milk was cold, more milk please", type="semantic"), "latte milk"),
            (memory("m3", "+1555", "Caller: my dog is called Biscuit", type="semantic"), "March 2026 Monday")]
    store.save_call(CallUpdate(conversation_id="conv_1", caller_id="+1555", agent_id="a", started_at=T0,
                               profile=None, new_memories=[StoredMemory(m, EMBED.embed([m.text])[0], keywords=k)
                                                           for m, k in mine]))

    def expected(kind):
        rows = [(m, k) for m, k in mine if kind is None or m.type == kind]
        docs = [Candidate(m.id, index_terms(m.text), index_terms(k)) for m, k in rows]
        return bm25(query_phrases(["milk", "latte"]), docs,
                    Corpus(len(docs), sum(len(d.text) + len(d.keywords) for d in docs)), limit=10)

    for kind in (None, "semantic"):
        assert store.keyword_search("+1555", ["milk", "latte"], limit=10, type=kind) == expected(kind)
    # Another caller's memories full of the same words change nothing for this caller.
    store.save_call(update("conv_2", "+1666", [memory(f"b{i}", "+1666", "milk latte milk") for i in range(5)]))
    assert store.keyword_search("+1555", ["milk", "latte"], limit=10, type=None) == expected(None)
    assert [i for i, _ in store.keyword_search("+1555", ["march"], limit=10, type=None)] == ["m3"]


def test_superseded_memories_leave_search_but_stay_stored(store):
    store.save_call(update("conv_1", "+1555", [memory("m1", "+1555", "prefers oat milk", slot="preference:milk")]))
    later = memory("m2", "+1555", "prefers almond milk", slot="preference:milk", at=T0 + timedelta(days=1),
                   conversation="conv_2")
    store.save_call(update("conv_2", "+1555", [later], superseded=[("m1", "m2")]))
    assert [m.id for m, _ in active_facts(store, "+1555")] == ["m2"]
    assert [i for i, _ in store.keyword_search("+1555", ["milk"], limit=10, type=None)] == ["m2"]
    assert set(store.memories(["m1", "m2"])) == {"m1", "m2"}


def test_supersession_cannot_touch_another_callers_memory(store):
    store.save_call(update("conv_1", "+1555", [memory("m1", "+1555", "prefers oat milk")]))
    store.save_call(update("conv_2", "+1666", [memory("m2", "+1666", "x")], superseded=[("m1", "m2")]))
    assert [m.id for m, _ in active_facts(store, "+1555")] == ["m1"]


def test_profiles_round_trip(store):
    profile = CallerProfile(caller_id="+1555", first_seen=T0, last_seen=T0, call_count=2, first_name="José",
                            name_source="self_introduction", language="es", last_call_summary="hola",
                            memory_count=3, top_facts=("a", "b"))
    store.save_call(update("conv_1", "+1555", [], profile=profile))
    assert store.caller("+1555") == profile
    assert store.caller("+1999") is None


def test_latest_call_is_the_newest_last_seen_of_any_caller(store):
    assert store.latest_call() is None
    for caller, seen in (("+1555", T0 + timedelta(days=3)), ("+1666", T0 + timedelta(days=1))):
        profile = CallerProfile(caller_id=caller, first_seen=T0, last_seen=seen, call_count=1)
        store.save_call(update(f"conv_{caller}", caller, [], profile=profile))
    assert store.latest_call() == T0 + timedelta(days=3)


def test_files_are_linked_by_conversation(store):
    store.link_file("conv_9", "audio", "calls/conv_9/audio.mp3")
    store.link_file("conv_9", "audio", "calls/conv_9/audio.mp3")
    assert store.files("conv_9") == {"audio": "calls/conv_9/audio.mp3"}


def accept(queue, conversation_id="c1", *, event_type="t", body=b"x"):
    return queue.accept(event_type=event_type, conversation_id=conversation_id, body=body,
                        received_at=T0).result(timeout=10)


def test_queue_dedupes_and_claims_each_job_once(queue):
    assert accept(queue, event_type="post_call_audio", body=b"{}")
    assert not accept(queue, event_type="post_call_audio", body=b"{}")
    assert accept(queue, event_type="post_call_transcription", body=b"{}")
    first = queue.claim(worker="w", now=T0, lease_secs=60)
    second = queue.claim(worker="w", now=T0, lease_secs=60)
    assert first
    assert second
    assert first.id != second.id
    assert queue.claim(worker="w", now=T0, lease_secs=60) is None
    assert queue.stats() == QueueStats(pending=2, dead=0)
    assert queue.complete(first.id, lease=first.lease)
    assert queue.bury(second.id, lease=second.lease, error="bad")
    assert queue.stats() == QueueStats(pending=0, dead=1)  # the whole value: every adapter must agree


def test_concurrent_acks_share_a_commit_and_resolve_only_once_it_is_done(tmp_path):
    db = Database(tmp_path / "q.sqlite3")
    db.migrate()
    batches: list[int] = []

    def write(conn, rows):
        batches.append(len(rows))
        return [conn.execute("INSERT INTO inbox (event_type, conversation_id, body, received_at, run_after) "
                             "VALUES ('t', ?, x'', 0, 0) ON CONFLICT DO NOTHING", (row,)).rowcount == 1
                for row in rows]

    commits = GroupCommit(db, write)
    other = sqlite3.connect(db.path, isolation_level=None)  # another process holding SQLite's write lock
    other.execute("BEGIN IMMEDIATE")
    try:
        futures = [commits.submit(f"c{i % 15}") for i in range(20)]
        time.sleep(0.3)
        assert not any(f.done() for f in futures)  # nothing is answered before its commit
    finally:
        other.execute("ROLLBACK")
        other.close()
    results = [f.result(timeout=10) for f in futures]
    assert results == [True] * 15 + [False] * 5  # repeats inside one batch are duplicates too
    assert sum(batches) == 20
    assert len(batches) <= 2
    commits.close()
    db.close()


def test_a_failed_group_commit_fails_every_ack_of_its_batch(tmp_path):
    db = Database(tmp_path / "q.sqlite3")
    db.migrate()

    def write(conn, rows):
        conn.execute("INSERT INTO no_such_table VALUES (1)")
        return [True] * len(rows)

    commits = GroupCommit(db, write)
    with db._write_lock:  # let several acks queue up behind one commit
        futures = [commits.submit(i) for i in range(5)]
    for future in futures:
        with pytest.raises(StorageError):
            future.result(timeout=10)
    commits.close()
    refused = commits.submit(99)  # after close: refused at once, never left hanging
    with pytest.raises(StorageError):
        refused.result(timeout=1)
    db.close()


def test_the_ack_commit_is_durable_full_fsync_in_wal_mode(tmp_path):
    """A benchmark cannot see a missing fsync: assert the pragmas on the very connection acks commit on."""
    db = Database(tmp_path / "q.sqlite3")
    db.migrate()
    seen = []

    def write(conn, rows):
        seen.append((conn.execute("PRAGMA synchronous").fetchone()[0],
                     conn.execute("PRAGMA journal_mode").fetchone()[0]))
        return [True] * len(rows)

    commits = GroupCommit(db, write)
    assert commits.submit("x").result(timeout=10)
    assert seen == [(2, "wal")]  # 2 = FULL: the WAL is fsynced at every commit
    commits.close()
    db.close()


def test_sqlite_queue_drops_a_completed_jobs_body_only_when_asked_and_still_dedupes(tmp_path):
    db = Database(tmp_path / "q.sqlite3")
    db.migrate()
    queue = SqliteJobQueue(db)
    for cid in ("c1", "c2"):
        accept(queue, cid, event_type="post_call_audio", body=b"x" * 10_000)
    first, second = (queue.claim(worker="w", now=T0, lease_secs=60) for _ in range(2))
    queue.complete(first.id, lease=first.lease, drop_body=True)
    queue.complete(second.id, lease=second.lease)
    sizes = dict(db.connection().execute("SELECT id, length(body) FROM inbox").fetchall())
    assert sizes == {first.id: 0, second.id: 10_000}
    # a retry after completion is still a no-op
    assert not accept(queue, first.conversation_id, event_type="post_call_audio")
    assert queue.stats().pending == 0
    db.close()


def test_queue_retries_after_backoff_and_reclaims_expired_leases(queue):
    accept(queue)
    job = queue.claim(worker="w", now=T0, lease_secs=60)
    queue.retry(job.id, lease=job.lease, error="boom", run_after=T0 + timedelta(seconds=30))
    assert queue.claim(worker="w", now=T0 + timedelta(seconds=10), lease_secs=60) is None
    again = queue.claim(worker="w", now=T0 + timedelta(seconds=31), lease_secs=60)
    assert again.id == job.id
    assert again.attempts == 2
    assert again.body == b"x"
    # The worker holding it dies: once its lease expires another worker gets it.
    assert queue.claim(worker="w2", now=T0 + timedelta(seconds=60), lease_secs=60) is None
    stolen = queue.claim(worker="w2", now=T0 + timedelta(seconds=92), lease_secs=60)
    assert stolen.id == job.id
    assert stolen.attempts == 3
    # The first holder wakes up late: its token no longer holds the job, so its result is refused.
    assert again.lease != stolen.lease
    assert not queue.complete(again.id, lease=again.lease)
    assert not queue.retry(again.id, lease=again.lease, error="late", run_after=T0)
    assert not queue.bury(again.id, lease=again.lease, error="late")
    assert not queue.heartbeat(again.id, lease=again.lease, now=T0 + timedelta(seconds=93), lease_secs=60)
    assert queue.stats().pending == 1
    assert queue.complete(stolen.id, lease=stolen.lease)
    assert not queue.complete(stolen.id, lease=stolen.lease)  # done once; a second call changes nothing
    assert queue.stats().pending == 0


def test_queue_heartbeat_keeps_a_long_job_from_being_claimed_again(queue):
    accept(queue)
    job = queue.claim(worker="w", now=T0, lease_secs=60)
    assert queue.heartbeat(job.id, lease=job.lease, now=T0 + timedelta(seconds=50), lease_secs=60)
    assert queue.claim(worker="w2", now=T0 + timedelta(seconds=100), lease_secs=60) is None
    assert not queue.heartbeat(job.id, lease="not-the-token", now=T0 + timedelta(seconds=100), lease_secs=60)
    stolen = queue.claim(worker="w2", now=T0 + timedelta(seconds=111), lease_secs=60)
    assert stolen is not None
    assert stolen.id == job.id


def test_queue_released_jobs_void_the_old_token(queue):
    accept(queue)
    job = queue.claim(worker="host:111:1", now=T0, lease_secs=600)
    assert queue.release_orphans(lambda _worker: False) == 1
    assert not queue.complete(job.id, lease=job.lease)
    again = queue.claim(worker="host:222:1", now=T0 + timedelta(seconds=1), lease_secs=600)
    assert again is not None
    assert (again.id, again.lease != job.lease) == (job.id, True)


def test_delete_prefix_erases_one_folder_only(blobs):
    blobs.put("calls/c1/audio.mp3", b"one")
    blobs.put("calls/c1/audio.mp3", b"two")  # a second version on a versioned bucket
    blobs.put("calls/c1/transcript.json", b"{}")
    blobs.put("calls/c10/audio.mp3", b"other call")  # shares the string prefix "calls/c1", not the folder
    assert blobs.delete_prefix("calls/c1") >= 2
    for key in ("calls/c1/audio.mp3", "calls/c1/transcript.json"):
        with pytest.raises(KeyError):
            blobs.get(key)
    assert blobs.get("calls/c10/audio.mp3") == b"other call"
    assert blobs.delete_prefix("calls/c1") == 0
    with pytest.raises(ValueError, match="unsafe"):
        blobs.delete_prefix("../calls")


def test_blobs_round_trip_and_refuse_escaping_keys(blobs):
    blobs.put("calls/c1/audio.mp3", b"\x00\x01")
    blobs.put("calls/c1/audio.mp3", b"\x02")
    assert blobs.get("calls/c1/audio.mp3") == b"\x02"
    with pytest.raises(KeyError):
        blobs.get("calls/c2/audio.mp3")
    for bad in ("../x", "/etc/passwd", "calls/../../x", "calls//x", ".hidden", "a/./b", "a\\b", ""):
        with pytest.raises(ValueError, match="unsafe object key"):
            blobs.put(bad, b"x")


def test_blobs_delete_one_key_for_good_and_leave_its_neighbours(blobs, request):
    blobs.put("calls/c1/audio.mp3", b"old")
    blobs.put("calls/c1/audio.mp3", b"new")  # a second version on a versioned bucket
    blobs.put("calls/c1/audio.mp3.part", b"neighbour")
    assert blobs.delete("calls/c1/audio.mp3")
    assert not blobs.delete("calls/c1/audio.mp3")
    with pytest.raises(KeyError):
        blobs.get("calls/c1/audio.mp3")
    assert blobs.get("calls/c1/audio.mp3.part") == b"neighbour"
    if "s3" in request.node.callspec.id:  # a delete marker is not erasure: no version may remain
        versions = blobs.s3.list_object_versions(Bucket=blobs.bucket, Prefix=blobs._key("calls/c1/audio.mp3"))
        keys = {v["Key"] for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]}
        assert keys == {blobs._key("calls/c1/audio.mp3.part")}


def test_sqlite_vectors_round_trip_exactly(tmp_path):
    db = Database(tmp_path / "v.sqlite3")
    db.migrate()
    store = SqliteMemoryStore(db)
    vector = np.random.default_rng(1).standard_normal(64).astype(np.float32)
    store.save_call(CallUpdate(conversation_id="c", caller_id="+1", agent_id="a", started_at=T0, profile=None,
                               new_memories=[StoredMemory(memory("m", "+1", "t"), vector)]))
    (_, stored), = active_facts(store, "+1")
    assert np.array_equal(stored, vector)
    assert db.integrity_check() == "ok"
    db.close()


def test_jobs_of_a_dead_worker_are_requeued_at_once(queue):
    accept(queue, "c1")
    accept(queue, "c2", body=b"y")
    dead = queue.claim(worker="host:111:1", now=T0, lease_secs=600)
    alive = queue.claim(worker="host:222:1", now=T0, lease_secs=600)
    assert queue.release_orphans(lambda worker: worker != "host:111:1") == 1
    again = queue.claim(worker="host:333:1", now=T0, lease_secs=600)
    assert again is not None
    assert again.id == dead.id
    assert queue.claim(worker="host:333:1", now=T0, lease_secs=600) is None  # the live worker keeps its job
    assert alive.id != dead.id


def test_worker_liveness_is_only_denied_for_dead_local_processes():
    import os
    import socket
    import subprocess

    from agentic_memory.worker import worker_is_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = socket.gethostname()
    assert worker_is_alive(f"{host}:{os.getpid()}:1")
    assert not worker_is_alive(f"{host}:{child.pid}:1")
    assert worker_is_alive(f"other-host:{child.pid}:1")


def test_migration_2_moves_old_keyword_rows_to_per_caller_terms(tmp_path):
    from agentic_memory.adapters.sqlite.database import _migrations, _statements

    db = Database(tmp_path / "old.sqlite3")
    conn = db.connection()
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for statement in _statements(_migrations()[0][1]):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations (version) VALUES (1)")
    conn.execute("INSERT INTO memories (id, caller_id, type, text, conversation_id, created_at, vector) "
                 "VALUES ('m1', '+1555', 'factual', 'prefers oat milk', 'c1', 0, x'00')")
    conn.execute("INSERT INTO memory_fts (rowid, text, keywords, owner) VALUES (1, 'prefers oat milk', 'latte', "
                 "'o1555')")
    db.migrate()
    # Migration 5 keeps the keywords in `memories` and indexes the domain's terms.
    assert conn.execute("SELECT keywords, term_count FROM memories").fetchone() == ("latte", 4)
    store = SqliteMemoryStore(db)
    hits = store.keyword_search("+1555", ["lattes"], limit=5, type=None)
    assert [i for i, _ in hits] == ["m1"]
    assert [i for i, _ in store.keyword_search("+1555", ["milk"], limit=5, type=None)] == ["m1"]
    assert store.keyword_search("+1666", ["milk"], limit=5, type=None) == []
    assert db.integrity_check() == "ok"
    db.close()


def test_keyword_terms_split_like_the_index_and_stem_alike(store):
    store.save_call(update("conv_1", "+1555",
                           [memory("m1", "+1555", "Caller's order number is A-48213; trips to Denver")]))
    for terms in (["a-48213"], ["48213"], ["trip"], ["caller's"]):
        assert [i for i, _ in store.keyword_search("+1555", terms, limit=5, type=None)] == ["m1"], terms


def test_text_with_a_nul_character_is_stored_and_found(store):
    # JSON can carry \u0000 in a transcript; a store must keep such a call, not fail on it forever.
    profile = CallerProfile(caller_id="+1555", first_seen=T0, last_seen=T0, call_count=1, first_name="Ann\x00",
                            top_facts=("likes\x00tea",))
    assert store.save_call(update("conv\x00_1", "+1555", [memory("m1", "+1555", "prefers oat\x00 milk")],
                                  profile=profile))
    assert [i for i, _ in store.keyword_search("+1555", ["milk"], limit=5, type=None)] == ["m1"]
    assert store.caller("+1555") is not None
    assert store.load_call("conv\x00_1", "+1555").processed


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])  # the fake has nothing to close
def test_an_ack_after_the_queue_closed_fails_with_a_storage_error_instead_of_hanging(queue):
    queue.close()
    with pytest.raises(StorageError):
        accept(queue)


def _fts_segments(db):
    return db.connection().execute("SELECT count(DISTINCT segid) FROM memory_fts_idx").fetchone()[0]


def test_sqlite_keyword_index_keeps_fewer_segments_and_merging_changes_no_answer(tmp_path):
    """The merge policy `migrate` sets (database.FTS_MERGE) against FTS5's defaults, fed the same calls one
    transaction each as the worker writes them: fewer segments to read, the same answers; and a full merge
    of the index (what `compact` runs) changes no answer either."""
    from agentic_memory.domain.ranking import query_terms

    words = ["oat milk", "window seat", "order A-4821", "peanuts", "Denver trip", "text message", "aisle",
             "Tuesday delivery", "blue scarf", "refund"]
    dbs = [Database(tmp_path / "tuned.sqlite3"), Database(tmp_path / "defaults.sqlite3")]
    for db in dbs:
        db.migrate()
    with dbs[1].transaction() as conn:
        conn.execute("INSERT INTO memory_fts (memory_fts, rank) VALUES ('automerge', 4)")
        conn.execute("INSERT INTO memory_fts (memory_fts, rank) VALUES ('crisismerge', 16)")
    stores = [SqliteMemoryStore(db) for db in dbs]
    callers = [f"+1555000{n:04d}" for n in range(8)]
    for i in range(60):
        caller = callers[i % len(callers)]
        texts = [f"caller likes {words[(i + k) % len(words)]} and {words[(i * 3 + k) % len(words)]}" for k in range(3)]
        new = [memory(f"m{i}_{k}", caller, text, conversation=f"conv_{i}") for k, text in enumerate(texts)]
        # Every fourth call replaces a fact of the caller's previous call: the index gets deletions too.
        old = [(f"m{i - len(callers)}_0", f"m{i}_0")] if i >= len(callers) and i % 4 == 0 else []
        for store in stores:
            assert store.save_call(update(f"conv_{i}", caller, new, superseded=old))

    def answers(store):
        return [store.keyword_search(caller, query_terms(f"what about {word}?"), limit=20, type=None)
                for caller in callers for word in words]

    before = answers(stores[0])
    assert sum(map(len, before)) > 100
    assert before == answers(stores[1])
    assert _fts_segments(dbs[0]) < _fts_segments(dbs[1])
    with dbs[0].transaction() as conn:
        conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('optimize')")
    assert _fts_segments(dbs[0]) == 1
    assert answers(stores[0]) == before
    for db in dbs:
        db.close()
