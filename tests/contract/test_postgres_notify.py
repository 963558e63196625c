"""LISTEN/NOTIFY on the real PostgreSQL: a queued job wakes an idle worker at once, and polling still
finds jobs whose notification never arrived (adapters/postgres/notify.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agentic_memory.adapters.postgres.database import PostgresDatabase
from agentic_memory.adapters.postgres.notify import JobNotices
from agentic_memory.adapters.postgres.queue import PostgresJobQueue
from agentic_memory.bootstrap import Deps, build
from agentic_memory.elevenlabs import builders
from agentic_memory.testing import HashEmbedder
from tests.conftest import make_settings

LONG_POLL_SECS = 30.0


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def api_queue(pg_url: str) -> Iterator[PostgresJobQueue]:
    """The queue as another process (an API server) sees it: its own pool, no worker."""
    db = PostgresDatabase(pg_url)
    queue = PostgresJobQueue(db)
    yield queue
    queue.close()
    db.close()


def notices_of(deps: Deps) -> JobNotices:
    assert isinstance(deps.queue, PostgresJobQueue)
    return deps.queue.notices


@contextmanager
def running_worker(pg_url: str, tmp_path: Path, *, poll_secs: float) -> Iterator[Deps]:
    deps = build(make_settings(tmp_path, database_url=pg_url, poll_secs=poll_secs), embedder=HashEmbedder(),
                 with_worker=True)
    assert deps.worker is not None
    thread = deps.worker.start_thread()
    try:
        yield deps
    finally:
        deps.worker.stop()
        thread.join(timeout=10)
        deps.close()


@pytest.fixture
def _idle_worker(pg_url: str, tmp_path: Path) -> Iterator[Deps]:
    """A worker thread polling only every LONG_POLL_SECS, listening, and asleep (its first look is over)."""
    with running_worker(pg_url, tmp_path, poll_secs=LONG_POLL_SECS) as deps:
        wait_for(notices_of(deps).listening.is_set, timeout=10)
        time.sleep(1.0)  # the wake-up LISTEN itself sends has been spent on an empty queue
        yield deps


def enqueue(queue: PostgresJobQueue, conversation_id: str) -> None:
    body = builders.transcription(conversation_id=conversation_id, caller="+14155550123",
                                  turns=[("user", "My dog is called Biscuit.")], start_time=1767225700)
    assert queue.accept(event_type="post_call_transcription", conversation_id=conversation_id,
                        body=json.dumps(body).encode(), received_at=datetime.now(UTC)).result(timeout=10)


def status(pg_url: str, conversation_id: str) -> Any:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT status FROM jobs WHERE conversation_id = %s", (conversation_id,)).fetchone()
    return row[0] if row else None


@pytest.mark.usefixtures("_idle_worker")
def test_a_queued_job_wakes_an_idle_worker_long_before_its_poll_interval(api_queue, pg_url):
    for n in range(3):  # every job, not only the first after start-up
        enqueue(api_queue, f"conv_notify_{n}")
        took = wait_for(lambda n=n: status(pg_url, f"conv_notify_{n}") == "done", timeout=10)
        assert took < LONG_POLL_SECS / 3


def test_a_job_whose_notification_was_lost_is_still_found_by_polling(pg_url, tmp_path, api_queue):
    with running_worker(pg_url, tmp_path, poll_secs=1.0) as deps:
        notices = notices_of(deps)
        wait_for(notices.listening.is_set, timeout=10)
        notices.reconnect_secs = 3600  # once its connection is gone, it stays gone for this test
        with psycopg.connect(pg_url, autocommit=True) as admin:  # a failover, a proxy dropping idle sessions
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND query LIKE 'LISTEN %'")
        wait_for(lambda: not notices.listening.is_set(), timeout=10)
        enqueue(api_queue, "conv_unheard")
        wait_for(lambda: status(pg_url, "conv_unheard") == "done", timeout=10)


def test_the_listener_reconnects_after_losing_its_connection(pg_url, tmp_path, api_queue):
    with running_worker(pg_url, tmp_path, poll_secs=LONG_POLL_SECS) as deps:
        notices = notices_of(deps)
        notices.reconnect_secs = 0.2
        wait_for(notices.listening.is_set, timeout=10)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND query LIKE 'LISTEN %'")
        wait_for(lambda: not notices.listening.is_set(), timeout=10)
        wait_for(notices.listening.is_set, timeout=10)
        time.sleep(1.0)
        enqueue(api_queue, "conv_heard_again")
        assert wait_for(lambda: status(pg_url, "conv_heard_again") == "done", timeout=10) < LONG_POLL_SECS / 3
