"""A queue client in its own process, for the PostgreSQL concurrency tests (`python -m tests.contract.pg_claimer`).

drain URL WORKER        print "ready", wait for a line on stdin (so several start together), then claim and
                        complete jobs until none is ready; prints each claimed job id
hold URL WORKER SECS    claim one job with a SECS-second lease, print "id lease", then on a line from stdin
                        try to complete it and print True/False (a worker that stalled past its lease)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from agentic_memory.adapters.postgres.database import PostgresDatabase
from agentic_memory.adapters.postgres.queue import PostgresJobQueue


def main(mode: str, url: str, worker: str, lease_secs: int = 60) -> None:
    db = PostgresDatabase(url, max_size=2)
    queue = PostgresJobQueue(db)
    try:
        if mode == "drain":
            db.ping()  # connected before the start line
            print("ready", flush=True)
            sys.stdin.readline()
            while (job := queue.claim(worker=worker, now=datetime.now(UTC), lease_secs=lease_secs)) is not None:
                print(job.id, flush=True)
                if not queue.complete(job.id, lease=job.lease):
                    print("lost", job.id, flush=True)
        else:
            job = queue.claim(worker=worker, now=datetime.now(UTC), lease_secs=lease_secs)
            assert job is not None
            print(job.id, job.lease, flush=True)
            sys.stdin.readline()
            print(queue.complete(job.id, lease=job.lease), flush=True)
    finally:
        queue.close()
        db.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], *(int(a) for a in sys.argv[4:5]))
