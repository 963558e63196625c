"""`python -m bench --database postgresql`: the same parts against a temporary PostgreSQL.

The server is the tests' own (tests/postgres_server.py: initdb + pg_ctl in a temp dir, 127.0.0.1). Each
cached SQLite level (bench/scale.py) is moved into it with `agentic-memory copy`'s service, so both
backends answer over exactly the same callers and memories. The scale part keeps each level's
PostgreSQL cluster under bench/results/cache/ too (`ensure_level`), so 100k callers are copied once.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

_DATABASES = count()


@contextmanager
def temporary_server(*, log: Any = print) -> Iterator[Any]:
    from tests.postgres_server import PostgresServer

    server = PostgresServer()
    log("  starting a temporary PostgreSQL ...")
    server.start()
    try:
        yield server
    finally:
        server.close()


# While a cached level is built: the cluster is a cache that is rebuilt if lost, so no fsync; a clean stop
# at the end still writes everything out.
BUILD_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB"
DATABASE = "agentic_memory"


def level_dir(n: int) -> Path:
    """Where level `n`'s PostgreSQL cluster is cached: keyed by the SQLite level it copies and the schema."""
    from agentic_memory.adapters.postgres.database import latest_version
    from bench import scale

    return scale.CACHE / f"pg-{scale.level_dir(n).name}-p{latest_version()}"


def ensure_level(n: int, *, log: Any = print) -> tuple[Path, dict[str, Any]]:
    """The cached PostgreSQL cluster for `n` callers (a copy of the SQLite level), building it when missing."""
    import json
    import shutil

    from tests.postgres_server import PostgresServer

    from bench import scale

    root = level_dir(n)
    marker = root / "loaded.json"
    if marker.exists():
        return root, {**json.loads(marker.read_text()), "reused_cache": True}
    sqlite_dir, info = scale.ensure_level(n, log=log)
    shutil.rmtree(root, ignore_errors=True)
    log(f"  building the PostgreSQL copy of {n} callers in {root} ...")
    server = PostgresServer(root, options=BUILD_OPTIONS)
    server.start()
    try:
        _, copy_secs = database_from_level(server, sqlite_dir, name=DATABASE, log=log)
    finally:
        server.close()
    info = {**info, "copy_secs": copy_secs}
    marker.write_text(json.dumps(info))
    return root, {**info, "reused_cache": False}


@contextmanager
def cached_server(n: int, *, log: Any = print) -> Iterator[str]:
    """Level `n`'s cached cluster started on a free port (stopped cleanly after); yields the database URL."""
    from tests.postgres_server import PostgresServer

    root, _ = ensure_level(n, log=log)
    server = PostgresServer(root)
    server.resume()
    try:
        yield server.url.rsplit("/", 1)[0] + "/" + DATABASE
    finally:
        server.close()


def database_mb(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round(int(row[0]) / 2**20, 1) if row else 0.0


def database_from_level(server: Any, data_dir: Path, *, name: str = "", log: Any = print) -> tuple[str, float]:
    """A new database on `server` holding a copy of the SQLite database in `data_dir`; returns its URL and
    the seconds the copy took."""
    import psycopg

    from agentic_memory.bootstrap import copy_database
    from agentic_memory.config import Settings

    name = name or f"am_bench_{next(_DATABASES)}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = server.url.rsplit("/", 1)[0] + "/" + name
    started = time.perf_counter()
    report = copy_database(Settings(_env_file=None, data_dir=data_dir), f"sqlite:///{data_dir}/agentic_memory.sqlite3",
                           url)
    if report.mismatched:
        raise RuntimeError(f"copy into PostgreSQL: counts differ for {report.mismatched}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # planner statistics, as a restored database gets them
    secs = round(time.perf_counter() - started, 1)
    log(f"  copied {data_dir.name} into PostgreSQL in {secs} s ({report.target['memories']} memories)")
    return url, secs


def throughput(data_dir: Path, env: dict[str, str], *, callers: int, processes: int, concurrency: int, secs: float,
               log: Any = print) -> dict[str, float]:
    """`/client-data` and `/retrieve` req/s from `serve --workers <processes> --no-worker`."""
    from bench.latency import params
    from bench.load import LoadSpec, run_load
    from bench.server import Server

    rps = {}
    with Server(data_dir=data_dir, extra_args=("--no-worker", "--workers", str(processes)), env=env) as server:
        for endpoint in ("client-data", "retrieve"):
            spec = LoadSpec(server.url, endpoint, params(endpoint, server, callers), concurrency, 1.0, 1, secs)
            rps[endpoint] = round(run_load(spec)["rounds"][0]["rps"], 1)
    log(f"  {processes} API process(es), c={concurrency}: {rps}")
    return rps


def latency(data_dir: Path, ack_dir: Path, *, callers: int, rounds: int, round_secs: float,
            log: Any = print) -> dict[str, Any]:
    """The latency part on PostgreSQL (the two SQLite copies moved in), then req/s with 1 and 2 API processes."""
    from bench import latency as sqlite_latency

    with temporary_server(log=log) as server:
        urls = [database_from_level(server, d, log=log)[0] for d in (data_dir, ack_dir)]
        envs = ({"AGENTIC_MEMORY_DATABASE_URL": urls[0]}, {"AGENTIC_MEMORY_DATABASE_URL": urls[1]})
        out = sqlite_latency.run(data_dir, ack_dir, callers=callers, rounds=rounds, round_secs=round_secs,
                                 log=log, envs=envs)
        out["database"] = "postgresql"
        out["throughput"] = {str(n): throughput(data_dir, envs[0], callers=callers, processes=n, concurrency=8,
                                                secs=round_secs * 2, log=log) for n in (1, 2)}
    return out


def _sched_secs(pid: int) -> tuple[float, float]:
    """Seconds a process's threads have run on a CPU, and waited runnable for one (the kernel's schedstat):
    what is left of the wall time was spent blocked (database round trips, commits, sleeps)."""
    ran = waited = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            fields = stat.read_text().split()
        except OSError:  # the thread ended meanwhile
            continue
        ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return ran / 1e9, waited / 1e9


def _backlog(server: Any, calls: int) -> str:
    """A fresh database holding `calls` queued 20-turn calls that no worker may claim yet; returns its URL."""
    from datetime import UTC, datetime

    import psycopg

    from agentic_memory.adapters.postgres.database import PostgresDatabase
    from agentic_memory.adapters.postgres.queue import PostgresJobQueue
    from bench.ingest import _webhook

    name = f"am_bench_{next(_DATABASES)}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = server.url.rsplit("/", 1)[0] + "/" + name
    db = PostgresDatabase(url)
    db.migrate()
    queue = PostgresJobQueue(db)
    with db.connection() as conn:  # the gate: closed until every worker process is up
        conn.execute("ALTER TABLE jobs ALTER COLUMN run_after SET DEFAULT 'infinity'")
    for i in range(calls):
        body = _webhook(900_000 + i, "drain")[1]  # a 20-turn call, as the ingest part sends
        queue.accept(event_type="post_call_transcription", conversation_id=f"conv_ingest_drain_{900_000 + i}",
                     body=body, received_at=datetime.now(UTC)).result()
    with db.connection() as conn:
        conn.execute("UPDATE jobs SET run_after = 'infinity'")
        conn.execute("ALTER TABLE jobs ALTER COLUMN run_after DROP DEFAULT")
    queue.close()
    db.close()
    return url


def drain(server: Any, *, calls: int = 200, processes: tuple[int, ...] = (1, 2, 1, 2), concurrency: int = 1,
          embed_threads: int = 1, log: Any = print) -> dict[str, Any]:
    """Seconds for `processes` `agentic-memory worker --concurrency <concurrency>` processes to drain a
    backlog of `calls` calls (each run on a fresh database with the same backlog, the real embedding model).

    Start-up (loading the model) is left out: the backlog is held back until every worker listens, then
    released at once. Beside the time: each process's CPU share while draining (CPU seconds / wall
    seconds; 1.0 = one core busy all along) and its run-queue share (seconds its threads were ready to run
    but every core was taken: other tenants of the machine), the mean seconds a job held its lease (claim to done), the
    mean gap between one worker thread's jobs (done to next claim), and the load average."""
    import os
    import subprocess
    import sys
    import tempfile

    import psycopg

    out: dict[str, Any] = {"calls": calls, "concurrency": concurrency, "embed_threads": embed_threads}
    for n in processes:
        url = _backlog(server, calls)
        with tempfile.TemporaryDirectory(prefix="agentic-bench-drain-") as tmp:
            env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))},
                   "AGENTIC_MEMORY_DATABASE_URL": url, "AGENTIC_MEMORY_DATA_DIR": tmp,
                   "AGENTIC_MEMORY_EMBED_THREADS": str(embed_threads),
                   "ELEVENLABS_WORKSPACE_KEY": "wk_bench_" + "x" * 32, "ELEVENLABS_HMAC_KEY": "wsec_bench_" + "y" * 32}
            command = [sys.executable, "-c", "from agentic_memory.cli import main; main()", "worker",
                       "--concurrency", str(concurrency)]
            launched = time.perf_counter()
            workers = [subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL) for _ in range(n)]
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    listening = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() " \
                                "AND query LIKE 'LISTEN %%'"
                    while conn.execute(listening).fetchone() != (n,):
                        if any(w.poll() is not None for w in workers):
                            raise RuntimeError("a worker process exited before it was ready")
                        time.sleep(0.1)
                    startup = time.perf_counter() - launched
                    time.sleep(1.0)  # past each worker's first (empty) claim
                    sched = [_sched_secs(w.pid) for w in workers]
                    load = os.getloadavg()[0]
                    started = time.perf_counter()
                    conn.execute("UPDATE jobs SET run_after = now()")
                    conn.execute("NOTIFY agentic_memory_jobs")
                    while conn.execute("SELECT count(*) FROM jobs WHERE status = 'done'").fetchone() != (calls,):
                        time.sleep(0.1)
                    secs = time.perf_counter() - started
                    after = [_sched_secs(w.pid) for w in workers]
                    cpu = [round((a[0] - b[0]) / secs, 2) for a, b in zip(after, sched, strict=True)]
                    queued = [round((a[1] - b[1]) / secs, 2) for a, b in zip(after, sched, strict=True)]
                    row = conn.execute(
                        "WITH j AS (SELECT worker, heartbeat_at, finished_at, lag(finished_at) OVER "
                        "(PARTITION BY worker ORDER BY heartbeat_at) AS previous FROM jobs) "
                        "SELECT avg(extract(epoch FROM finished_at - heartbeat_at)), "
                        "avg(extract(epoch FROM heartbeat_at - previous)) FROM j").fetchone()
            finally:
                for worker in workers:
                    worker.terminate()
                    worker.wait(30)
        result = {"secs": round(secs, 1), "startup_secs": round(startup, 1), "cpu_share": cpu, "runqueue_share": queued,
                  "job_secs": round(float(row[0]), 3) if row and row[0] is not None else None,
                  "gap_secs": round(float(row[1]), 3) if row and row[1] is not None else None,
                  "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}
        out.setdefault("runs", []).append({"processes": n, **result})
        log(f"  {n} worker process(es) x {concurrency}: {calls} calls in {result['secs']} s {result}")
    # `--processes 1,2,1,2` alternates, so that other tenants' load lands on both counts alike: each count's
    # median time, and the speed-up of the largest count over the smallest.
    for n in sorted(set(processes)):
        out[str(n)] = round(statistics.median(r["secs"] for r in out["runs"] if r["processes"] == n), 1)
    low, high = str(min(processes)), str(max(processes))
    if low != high:
        out["speedup"] = round(out[low] / out[high], 2)
        log(f"  {high} processes vs {low}: {out['speedup']}x (median seconds {out[low]} / {out[high]})")
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.postgres drain [--calls 200] [--processes 1,2] [--concurrency 1] [--embed-threads 1]`"""
    import argparse
    import json
    import sys

    p = argparse.ArgumentParser(prog="python -m bench.postgres", description=main.__doc__)
    p.add_argument("part", choices=("drain",))
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--processes", default="1,2,1,2",
                   help="worker process counts, measured in this order (alternate them: the machine's load drifts)")
    p.add_argument("--concurrency", type=int, default=1, help="jobs at once per worker process")
    p.add_argument("--embed-threads", type=int, default=1, help="ONNX intra-op threads per worker process")
    args = p.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with temporary_server(log=log) as server:
        result = drain(server, calls=args.calls, processes=tuple(int(n) for n in args.processes.split(",")),
                       concurrency=args.concurrency, embed_threads=args.embed_threads, log=log)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
