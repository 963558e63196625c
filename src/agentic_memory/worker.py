"""The worker loop: claim -> run -> complete / retry with backoff / dead-letter. Stops gracefully."""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agentic_memory.errors import EngineUnavailable, InvalidInput
from agentic_memory.ports import Clock, Job, JobQueue
from agentic_memory.services.process_call import WorkerDeps, process_job

if TYPE_CHECKING:
    from agentic_memory.metrics import Metrics
    from agentic_memory.services.retention import Sweeper

log = logging.getLogger(__name__)
MAX_BACKOFF_SECS = 600.0
# Tells this process apart from an earlier one that had the same pid on the same host: a container
# restarted after a crash runs as the same pid (often 1) under the same hostname.
_INCARNATION = secrets.token_hex(4)


def backoff(attempts: int) -> float:
    """Exponential with jitter: ~2 s, 4 s, 8 s ... capped at 10 minutes."""
    return min(MAX_BACKOFF_SECS, 2.0 ** attempts) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


@contextmanager
def heartbeat(queue: JobQueue, job: Job, *, clock: Clock, lease_secs: int) -> Iterator[None]:
    """Extend the job's lease every third of it while the body runs, so a long call (a big audio file, a
    slow embedding) is not handed to another worker while this one is still on it."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease_secs / 3):
            try:
                if not queue.heartbeat(job.id, lease=job.lease, now=clock.now(), lease_secs=lease_secs):
                    log.warning("lease lost while running", extra={"job_id": job.id})
                    return
            except Exception:  # a missed beat only shortens the lease; the job itself goes on
                log.exception("lease heartbeat failed", extra={"job_id": job.id})

    beater = threading.Thread(target=beat, name=f"lease-{job.id}", daemon=True)
    beater.start()
    try:
        yield
    finally:
        done.set()
        beater.join()


def worker_is_alive(name: str) -> bool:
    """Workers are named host:pid:incarnation:thread. Only a worker on this host can be proven dead."""
    host, _, rest = name.partition(":")
    pid, _, rest = rest.partition(":")
    incarnation = rest.split(":", 1)[0] if rest.count(":") else ""
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        # Another thread of this very process, unless the name is from an earlier process with our pid.
        return incarnation in ("", _INCARNATION)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@runtime_checkable
class EnqueueNotices(Protocol):
    """A queue that can wake its workers when any process queues a job (PostgreSQL's LISTEN/NOTIFY)."""

    def on_enqueue(self, wake: Callable[[], None]) -> None: ...


class Worker:
    def __init__(self, queue: JobQueue, deps: WorkerDeps, *, max_attempts: int = 8, lease_secs: int = 300,
                 idle_wait: float = 0.5, metrics: Metrics | None = None, sweeper: Sweeper | None = None) -> None:
        self.queue = queue
        self.deps = deps
        self.max_attempts = max_attempts
        self.lease_secs = lease_secs
        self.idle_wait = idle_wait
        self.metrics = metrics
        self.sweeper = sweeper  # retention, run from the loop when idle (services/retention.py)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{_INCARNATION}:{threading.get_ident()}"
        self.wake = threading.Event()
        self.stopping = threading.Event()
        if isinstance(queue, EnqueueNotices):  # woken at once by other processes' jobs; still polls
            queue.on_enqueue(self.wake.set)

    def run_once(self) -> bool:
        """Process one ready job; False when there was none."""
        job = self.queue.claim(worker=self.name, now=self.deps.clock.now(), lease_secs=self.lease_secs)
        if job is None:
            return False
        started = time.perf_counter()
        try:
            with heartbeat(self.queue, job, clock=self.deps.clock, lease_secs=self.lease_secs):
                outcome = process_job(job, self.deps)
        except InvalidInput as exc:  # the payload itself is unusable: retrying cannot help
            log.warning("job dead-lettered", extra={"job_id": job.id, "event_type": job.event_type,
                                                    "error": str(exc)})
            self.queue.bury(job.id, lease=job.lease, error=f"invalid payload: {exc}")
            self._observe(job.event_type, "dead", started)
            return True
        except Exception as exc:
            error = f"{exc.__class__.__name__}: {exc}"
            if job.attempts >= self.max_attempts:
                log.exception("job failed for good", extra={"job_id": job.id, "attempts": job.attempts})
                self.queue.bury(job.id, lease=job.lease, error=error)
                self._observe(job.event_type, "dead", started)
            else:
                # A remote engine that answered 429 may say how long to wait (Retry-After): never sooner.
                asked = (exc.retry_after or 0.0) if isinstance(exc, EngineUnavailable) else 0.0
                delay = min(MAX_BACKOFF_SECS, max(backoff(job.attempts), asked))
                log.exception("job failed, will retry", extra={"job_id": job.id, "attempts": job.attempts,
                                                               "retry_in_secs": round(delay, 1)})
                self.queue.retry(job.id, lease=job.lease, error=error,
                                 run_after=self.deps.clock.now() + timedelta(seconds=delay))
                self._observe(job.event_type, "retry", started)
            return True
        if not self.queue.complete(job.id, lease=job.lease, drop_body=outcome.drop_body):
            # The lease expired and another worker took the job; saving a call is idempotent per
            # conversation, so whichever run saved first wins and the other changes nothing.
            log.warning("job finished after its lease was lost", extra={"job_id": job.id})
            return True
        self._observe(job.event_type, "done", started)
        log.info("job done", extra={"job_id": job.id, "event_type": job.event_type, "outcome": outcome.summary,
                                    "ms": round((time.perf_counter() - started) * 1000, 1)})
        return True

    def _observe(self, event_type: str, outcome: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_job(event_type, outcome, time.perf_counter() - started)

    def sweep(self) -> None:
        """Run retention if it is due; a failure is logged and tried again at the next interval."""
        if self.sweeper is None:
            return
        try:
            self.sweeper.maybe_run()
        except Exception:
            log.exception("retention sweep failed")

    def run(self) -> None:
        log.info("worker started", extra={"worker": self.name})
        try:
            released = self.queue.release_orphans(worker_is_alive)
            if released:
                log.warning("requeued jobs of a worker that died", extra={"jobs": released})
        except Exception:
            log.exception("could not check for orphaned jobs")
        while not self.stopping.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("worker could not claim a job")
                busy = False
                self.stopping.wait(2.0)
            if not busy:
                self.sweep()
                # A job queued after the claim that found nothing sets `wake` before this wait ends, or
                # is found by the next claim: no wake-up is lost between the two.
                self.wake.wait(self.idle_wait)
                self.wake.clear()
        log.info("worker stopped", extra={"worker": self.name})

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="agentic-memory-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
