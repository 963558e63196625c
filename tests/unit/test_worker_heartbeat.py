"""The worker extends a long job's lease while it runs, so no other worker takes the job meanwhile."""

from __future__ import annotations

import time
from datetime import timedelta

from agentic_memory.clock import SystemClock
from agentic_memory.testing import InMemoryJobQueue
from agentic_memory.worker import heartbeat


def test_a_job_running_past_its_lease_keeps_it_while_heartbeats_succeed():
    queue, clock = InMemoryJobQueue(), SystemClock()
    queue.accept(event_type="t", conversation_id="c1", body=b"x", received_at=clock.now()).result()
    job = queue.claim(worker="w1", now=clock.now(), lease_secs=1)
    assert job is not None
    with heartbeat(queue, job, clock=clock, lease_secs=1):
        time.sleep(1.5)  # longer than the lease
        assert queue.claim(worker="w2", now=clock.now(), lease_secs=1) is None
    assert queue.complete(job.id, lease=job.lease)


def test_without_heartbeats_an_expired_lease_goes_to_the_next_worker():
    queue, clock = InMemoryJobQueue(), SystemClock()
    queue.accept(event_type="t", conversation_id="c1", body=b"x", received_at=clock.now()).result()
    job = queue.claim(worker="w1", now=clock.now(), lease_secs=1)
    assert job is not None
    stolen = queue.claim(worker="w2", now=clock.now() + timedelta(seconds=1.5), lease_secs=1)
    assert stolen is not None
    assert not queue.complete(job.id, lease=job.lease)
