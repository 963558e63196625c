"""Durability under crashes: the real server is SIGKILLed at random moments while ElevenLabs-like senders
deliver 500 signed webhooks. Every webhook ever answered 200 must end up stored and processed exactly once.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agentic_memory.bootstrap import local_engine
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.elevenlabs import builders, payloads
from agentic_memory.services.process_call import WorkerDeps, process_transcription
from agentic_memory.testing import FixedClock, HashEmbedder, InMemoryBlobStore, InMemoryMemoryStore
from tests.security.conftest import auth_headers, signed_headers

CONVERSATIONS = 250  # x (transcription + audio) = 500 distinct webhooks
SENDERS = 8
KILLS = 4
RETRIED = {408, 429} | set(range(500, 600))  # what ElevenLabs retries, besides timeouts and connection errors
SEND_DEADLINE_SECS = 120
DRAIN_SECS = 90
PACE_SECS = 0.1  # between one sender's webhooks: sending lasts several seconds even on fast disks


def _caller(i: int) -> str:
    return f"+1415555{i:04d}"


def _webhooks(now: int) -> list[tuple[str, str, bytes]]:
    """(conversation_id, event_type, raw body): short transcripts so embedding stays fast."""
    out = []
    for i in range(CONVERSATIONS):
        cid = f"conv_crash_{i:04d}"
        turns = [("agent", "Hi, how can I help?"),
                 ("user", f"My order number is A-{1000 + i}. I prefer email, thanks."),
                 ("agent", "Noted."), ("user", f"Also please note my booking for table {i % 17}.")]
        transcript = builders.transcription(conversation_id=cid, caller=_caller(i), turns=turns,
                                            start_time=now - 600 + i, summary=f"Caller {i} gave an order number.")
        mp3 = builders.FAKE_MP3 + cid.encode()
        audio = builders.audio(conversation_id=cid, mp3=mp3, timestamp=now - 500 + i)
        out.append((cid, payloads.TRANSCRIPTION, json.dumps(transcript).encode()))
        out.append((cid, payloads.AUDIO, json.dumps(audio).encode()))
    random.Random(7).shuffle(out)
    return out


class Sender(threading.Thread):
    """Delivers its share like ElevenLabs with retries on: same body each time, re-signed per attempt."""

    def __init__(self, url: str, work: list[tuple[str, str, bytes]], deadline: float) -> None:
        super().__init__(daemon=True)
        self.url, self.work, self.deadline = url, work, deadline
        self.acked: set[tuple[str, str]] = set()
        self.statuses: Counter[str] = Counter()

    def run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0)) as client:
            for cid, kind, raw in self.work:
                delay = 0.1
                while time.monotonic() < self.deadline:
                    try:
                        response = client.post(f"{self.url}/post-call", content=raw, headers=signed_headers(raw))
                        outcome = str(response.status_code)
                    except httpx.TimeoutException:
                        outcome = "timeout"
                    except httpx.TransportError:
                        outcome = "connection error"
                    self.statuses[outcome] += 1
                    if outcome == "200":
                        self.acked.add((cid, kind))
                        time.sleep(PACE_SECS)
                        break
                    if outcome.isdigit() and int(outcome) not in RETRIED:
                        break  # ElevenLabs never retries other 4xx: the webhook would be lost
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)


def _expected_memory_counts(webhooks: list[tuple[str, str, bytes]]) -> dict[str, int]:
    """Memories one clean processing of each transcription creates (each conversation has its own caller)."""
    counts = {}
    for cid, kind, raw in webhooks:
        if kind != payloads.TRANSCRIPTION:
            continue
        store = InMemoryMemoryStore()
        deps = WorkerDeps(store=store, blobs=InMemoryBlobStore(), engine=local_engine(store, HashEmbedder()),
                          extractor=RuleFactExtractor(), clock=FixedClock())
        conversation = payloads.parse_conversation(payloads.parse_event(raw), default_region="US",
                                                   received_at=datetime.now(UTC))
        process_transcription(conversation, raw, deps)
        counts[cid] = len(store.rows)
    return counts


def _crash_loop(server, rng: random.Random, stop: threading.Event, kills: list[float]) -> None:
    while len(kills) < KILLS and not stop.is_set():
        stop.wait(rng.uniform(0.3, 2.5))
        server.kill()  # SIGKILL: no shutdown hook, no flush, whatever was in flight is cut
        kills.append(time.monotonic())
        server.start()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_every_acked_webhook_is_processed_exactly_once_across_sigkills(server_factory):
    seed = random.randrange(1_000_000)
    print(f"crash seed {seed}")
    rng = random.Random(seed)
    server = server_factory()  # default settings: jobs cut by a kill are requeued when the server restarts
    server.start()
    webhooks = _webhooks(int(time.time()))
    expected = _expected_memory_counts(webhooks)

    deadline = time.monotonic() + SEND_DEADLINE_SECS
    senders = [Sender(server.url, webhooks[i::SENDERS], deadline) for i in range(SENDERS)]
    stop, kills = threading.Event(), []
    crasher = threading.Thread(target=_crash_loop, args=(server, rng, stop, kills), daemon=True)
    started = time.monotonic()
    for thread in (*senders, crasher):
        thread.start()
    for sender in senders:
        sender.join()
    sent_at = time.monotonic()
    crasher.join(timeout=60)  # remaining kills land while the worker processes the backlog
    stop.set()
    if server.health()["queue"]["pending"]:  # and one while only the worker is busy
        time.sleep(rng.uniform(0.2, 1.0))
        server.kill()
        kills.append(time.monotonic())
        server.start()
    health = server.wait_drained(timeout=DRAIN_SECS)
    server.kill()  # a final SIGKILL: the database must be consistent without a clean shutdown

    statuses = sum((s.statuses for s in senders), Counter())
    acked = set().union(*(s.acked for s in senders))
    print(f"sent in {sent_at - started:.1f}s, kills at "
          f"{[round(k - started, 1) for k in kills]}s, drained in {time.monotonic() - sent_at:.1f}s, "
          f"responses {dict(statuses)}, health {health}")
    assert len(kills) >= 3
    assert statuses["connection error"] + statuses["timeout"] > 0, "no request was ever cut by a kill"
    assert not [s for s in statuses if s.isdigit() and s != "200" and int(s) not in RETRIED], statuses
    assert len(acked) == len(webhooks), "some webhooks were never accepted"
    _assert_database(server.data_dir, acked, expected)


def _assert_database(data_dir: Path, acked: set[tuple[str, str]], expected: dict[str, int]) -> None:
    db = sqlite3.connect(f"file:{data_dir / 'agentic_memory.sqlite3'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        inbox = db.execute("SELECT conversation_id, event_type, status, last_error FROM inbox").fetchall()
        keys = Counter((cid, kind) for cid, kind, _, _ in inbox)
        assert set(keys) == acked
        assert max(keys.values()) == 1
        stuck = [(cid, kind, status) for cid, kind, status, _ in inbox if status not in ("done", "dead")]
        assert not stuck, f"jobs still queued or running: {stuck[:5]}"
        dead = [(cid, kind, error) for cid, kind, status, error in inbox if status == "dead"]
        assert all(error for _, _, error in dead)
        assert not dead, f"valid webhooks were dead-lettered: {dead[:3]}"

        conversations = Counter(r[0] for r in db.execute("SELECT conversation_id FROM conversations"))
        assert set(conversations) == set(expected)
        assert max(conversations.values()) == 1
        callers = dict(db.execute("SELECT caller_id, call_count FROM callers").fetchall())
        assert len(callers) == len(expected)
        assert set(callers.values()) == {1}
        per_conversation = Counter(r[0] for r in db.execute("SELECT conversation_id FROM memories"))
        wrong = {cid: (per_conversation.get(cid, 0), n) for cid, n in expected.items()
                 if per_conversation.get(cid, 0) != n}
        assert not wrong, f"memories per conversation differ from one clean processing: {list(wrong.items())[:5]}"
        duplicates = db.execute("SELECT count(*) FROM (SELECT 1 FROM memories WHERE superseded_by IS NULL "
                                "GROUP BY caller_id, text, conversation_id HAVING count(*) > 1)").fetchone()[0]
        assert duplicates == 0
        active = db.execute("SELECT count(*) FROM memories WHERE superseded_by IS NULL").fetchone()[0]
        assert db.execute("SELECT count(*) FROM memory_fts").fetchone()[0] == active  # index matches rows

        audio = dict(db.execute("SELECT conversation_id, key FROM call_files WHERE kind = 'audio'").fetchall())
        assert set(audio) == set(expected)
        files_root = (data_dir / "files").resolve()
        for cid, key in audio.items():
            path = (files_root / key).resolve()
            assert path.is_relative_to(files_root)
            assert path.read_bytes() == builders.FAKE_MP3 + cid.encode()
        leftovers = [p for p in files_root.rglob(".tmp-*")]
        print(f"{len(leftovers)} temporary files left by killed writes")
    finally:
        db.close()


def test_jobs_of_an_earlier_process_with_the_same_pid_are_requeued_at_startup(fast_deps):
    """A container restarted after a crash runs as the same pid (often 1) on the same hostname: its old jobs
    must not wait out the 300 s lease as if this process still held them."""
    import os
    import socket

    raw = json.dumps(builders.audio(conversation_id="conv_same_pid", mp3=builders.FAKE_MP3)).encode()
    now = datetime.now(UTC)
    assert fast_deps.queue.accept(event_type=payloads.AUDIO, conversation_id="conv_same_pid", body=raw,
                                  received_at=now).result(timeout=10)
    earlier = f"{socket.gethostname()}:{os.getpid()}:0badc0de:1"
    assert fast_deps.queue.claim(worker=earlier, now=now, lease_secs=300) is not None  # then it "crashed"
    worker = fast_deps.make_worker()
    thread = worker.start_thread()
    try:
        deadline = time.monotonic() + 10
        while fast_deps.queue.stats().pending and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(10)
    assert fast_deps.queue.stats().pending == 0
    assert fast_deps.blobs.get(fast_deps.store.files("conv_same_pid")["audio"]) == builders.FAKE_MP3


def test_the_database_runs_wal_with_full_sync(fast_deps):
    """The durability choice in docs/security.md, guarded: NORMAL would lose acknowledged webhooks on power loss."""
    import threading as _threading

    from agentic_memory.adapters.sqlite.database import Database

    db = Database(fast_deps.settings.data_dir / "agentic_memory.sqlite3")
    try:
        seen: list[tuple[str, int]] = []

        def read() -> None:  # every thread's connection, not only the first one
            conn = db.connection()
            seen.append((conn.execute("PRAGMA journal_mode").fetchone()[0],
                         conn.execute("PRAGMA synchronous").fetchone()[0]))

        threads = [_threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        read()
        assert seen == [("wal", 2)] * 4  # 2 = FULL
    finally:
        db.close()


def test_an_ack_waiting_for_the_write_lock_leaves_the_server_responsive_and_is_stored(server_factory):
    """An ack's commit never runs on the event loop: while another process holds SQLite's write lock, the ack
    waits on the adapter's writer thread and /health and /client-data still answer."""
    server = server_factory({"AGENTIC_MEMORY_LOG_LEVEL": "WARNING"})
    server.start()
    raw = json.dumps(builders.transcription(conversation_id="conv_lock_1", caller=_caller(1), turns=[
        ("agent", "Hello."), ("user", "My order number is A-1234.")], start_time=int(time.time()) - 60)).encode()
    result: dict[str, object] = {}

    def post() -> None:
        result["status"] = httpx.post(f"{server.url}/post-call", content=raw, timeout=60,
                                      headers={**signed_headers(raw), "Content-Type": "application/json"}).status_code

    other = sqlite3.connect(server.data_dir / "agentic_memory.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as a separate `agentic-memory worker` process saving a call would
    sender = threading.Thread(target=post, daemon=True)
    try:
        sender.start()
        sender.join(timeout=1.0)
        assert sender.is_alive(), "the ack returned while the write lock was held: it cannot have been stored"
        assert server.health()["status"] == "ok"  # the loop is free while the ack waits
        card = httpx.post(f"{server.url}/client-data", json={"caller_id": _caller(2)}, timeout=5,
                          headers=auth_headers())
        assert card.status_code == 200
        assert sender.is_alive()
    finally:
        other.execute("ROLLBACK")
        other.close()
    sender.join(timeout=30)
    assert result == {"status": 200}
    stored = sqlite3.connect(server.data_dir / "agentic_memory.sqlite3")
    assert stored.execute("SELECT count(*) FROM inbox WHERE conversation_id = 'conv_lock_1'").fetchone() == (1,)
    stored.close()
