"""Part 1: latency and throughput of every endpoint at several concurrencies, beside their floors.

Floors, measured in the same run: `/health` (the HTTP floor), one query embedding with the service's own
OnnxEmbedder in this process (the floor of `/retrieve`) and one fsync of a small file on the disk that
holds the server's data (what a durable `/post-call` ack must pay once).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench import synth
from bench.load import LoadSpec, run_load
from bench.server import Server

ENDPOINTS = ("health", "client-data", "retrieve", "post-call")


def embed_floor(samples: int = 300) -> dict[str, float]:
    """Median time to embed one query, single-threaded as the service is configured by default."""
    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder
    from agentic_memory.config import Settings

    embedder = OnnxEmbedder(threads=Settings.model_fields["embed_threads"].default)
    queries = synth.QUERIES
    for q in queries:
        embedder.embed([q])
    times = []
    for i in range(samples):
        started = time.perf_counter()
        embedder.embed([queries[i % len(queries)]])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 3), "p95": round(times[int(0.95 * len(times))], 3),
            "samples": samples}


def embed_ceiling(secs: float = 2.0) -> dict[str, Any]:
    """The most queries per second the model itself can embed on this machine: every core, the best of
    batch sizes 1/8/32 (the service batches concurrent queries). A closed loop of `c` clients cannot beat
    a mean latency of c / ceiling, so this bounds `/retrieve` at high concurrency before HTTP or search."""
    import os as _os

    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

    cores = len(_os.sched_getaffinity(0))
    embedder = OnnxEmbedder(threads=cores)
    by_batch = {}
    for size in (1, 8, 32):
        batch = (list(synth.QUERIES) * 32)[:size]
        embedder.embed(batch)
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < secs:
            embedder.embed(batch)
            done += size
        by_batch[str(size)] = round(done / (time.perf_counter() - started), 1)
    best = max(by_batch.values())
    return {"threads": cores, "queries_per_s": by_batch, "best_qps": best,
            "min_mean_ms_at_c32": round(32 / best * 1000, 1)}


def fsync_floor(directory: Path, samples: int = 100) -> dict[str, float]:
    """Median time of one fsync of a small file in `directory`: `p50` rewrites 512 bytes in place (the
    target uses this, the stricter floor); `append_p50` appends a 4 KB page first, as a WAL commit does
    (the file grows, so the filesystem journal is written too)."""
    out = {}
    for name, flags, size in (("p50", os.O_WRONLY, 512), ("append_p50", os.O_WRONLY | os.O_APPEND, 4096)):
        path = directory / "fsync-probe.bin"
        times = []
        fd = os.open(path, flags | os.O_CREAT, 0o600)
        try:
            for _ in range(samples):
                data = os.urandom(size)
                started = time.perf_counter()
                os.pwrite(fd, data, 0) if size == 512 else os.write(fd, data)
                os.fsync(fd)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            os.close(fd)
            path.unlink()
        out[name] = round(statistics.median(times), 3)
    out["samples"] = samples
    return out


def params(endpoint: str, server: Server, callers: int) -> dict[str, Any]:
    if endpoint in ("client-data", "retrieve"):
        return {"workspace_key": server.workspace_key, "callers": callers}
    if endpoint == "post-call":
        return {"hmac_key": server.hmac_key}
    return {}


def run(data_dir: Path, ack_dir: Path, *, callers: int, concurrencies: tuple[int, ...] = (1, 8, 32),
        rounds: int = 3, round_secs: float = 3.0, log: Any = print,
        envs: tuple[dict[str, str], dict[str, str]] = ({}, {})) -> dict[str, Any]:
    """`data_dir` and `ack_dir` hold copies of a database of `callers` synthetic callers (the 1k level).

    Rounds are interleaved (health, client-data, retrieve, post-call, health, ...) so that noise from
    other tenants of the machine lands on every endpoint alike and the ratios stay comparable; each
    round has its own 0.5 s warm-up and each value is the median of an endpoint's rounds.
    `/post-call` goes to a second, identically configured server on its own copy: its acks fill the
    inbox, and `/health` counts the inbox, so sharing one server would slow `/health` round by round.
    """
    out: dict[str, Any] = {"callers": callers, "embed_floor_ms": embed_floor(), "embed_ceiling": embed_ceiling(),
                           "endpoints": {}}
    # API only (`serve --no-worker`): acknowledged webhooks must not leave a backlog of embedding work
    # competing with the next rows (the ingest part measures the worker).
    # `envs`: each server's extra environment (`--database postgresql`: its AGENTIC_MEMORY_DATABASE_URL).
    with Server(data_dir=data_dir, extra_args=("--no-worker",), env=envs[0]) as main, \
            Server(data_dir=ack_dir, extra_args=("--no-worker",), env=envs[1]) as acks:
        out["fsync_floor_ms"] = fsync_floor(data_dir)
        for c in concurrencies:
            per_round: dict[str, list[dict[str, Any]]] = {e: [] for e in ENDPOINTS}
            for _ in range(rounds):
                for endpoint in ENDPOINTS:
                    server = acks if endpoint == "post-call" else main
                    spec = LoadSpec(server.url, endpoint, params(endpoint, server, callers), c, 0.5, 1, round_secs)
                    per_round[endpoint].append(run_load(spec)["rounds"][0])
            for endpoint in ENDPOINTS:
                rows = per_round[endpoint]
                result = {k: round(statistics.median(r[k] for r in rows), 3) for k in ("p50", "p95", "p99", "rps")}
                result["errors"] = sum(r["errors"] for r in rows)
                result["requests"] = sum(r["n"] for r in rows)
                out["endpoints"].setdefault(endpoint, {})[str(c)] = result
                log(f"  {endpoint:12s} c={c:<3d} p50 {result['p50']:7.2f} ms  p99 {result['p99']:7.2f} ms  "
                    f"{result['rps']:7.0f} req/s  errors {result['errors']}")
        out["rss_mb"] = main.rss()
        out["rss_ack_server_mb"] = acks.rss()
    return out
