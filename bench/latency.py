"""Part 1: latency and throughput of every endpoint at several concurrencies, beside their floors.

Floors, measured in the same run: `/health` (the HTTP floor), the fastest bare query embedding of the
shipped model in this process, whatever its thread setting (the floor of `/retrieve`), the model's best
throughput (the ceiling at high concurrency) and one fsync of a small file on the disk that
holds the server's data (what a durable `/post-call` ack must pay once).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench import synth
from bench.load import LoadSpec, run_load
from bench.server import Server

ENDPOINTS = ("health", "client-data", "retrieve", "post-call")


def _embedder(threads: int, *, spin: bool = False, inter: int = 1) -> Any:
    """The shipped model's embedder with one onnxruntime thread setting. `spin` lets the intra-op threads
    busy-wait between operators; `inter` > 1 runs independent graph nodes in parallel (ORT_PARALLEL). The
    service runs neither: they are tried here only so the floor is the hardware's best, not our choice."""
    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

    embedder = OnnxEmbedder(threads=threads)
    if spin or inter > 1:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = inter
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL if inter > 1 else ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
            options.add_session_config_entry(key, "1" if spin else "0")
        # Bench only: the same model file, another threading.
        embedder._session = ort.InferenceSession(
            str(embedder.model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"])
    return embedder


def _thread_settings(cores: int) -> dict[str, dict[str, Any]]:
    counts = sorted({1, *(n for n in (2, 4, 8) if n < cores), cores})
    settings: dict[str, dict[str, Any]] = {f"intra {n}": {"threads": n} for n in counts}
    if cores > 1:
        settings[f"intra {cores}, spinning"] = {"threads": cores, "spin": True}
        settings[f"intra {cores}, inter 2 (parallel)"] = {"threads": cores, "inter": 2}
    return settings


def embed_floor(samples: int = 300) -> dict[str, Any]:
    """The fastest bare query embedding of the shipped model on this machine: every thread setting in
    `_thread_settings`, samples interleaved between them (so other tenants' noise lands on all alike); the
    floor is the setting with the lowest median. `service` is the service's own default (1 thread)."""
    cores = len(os.sched_getaffinity(0))
    queries = synth.QUERIES
    embedders = {name: _embedder(**kw) for name, kw in _thread_settings(cores).items()}
    for embedder in embedders.values():
        for q in queries:
            embedder.embed([q])
    times: dict[str, list[float]] = {name: [] for name in embedders}
    for i in range(samples):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed([queries[i % len(queries)]])
            times[name].append((time.perf_counter() - started) * 1000)
    by_setting = {name: round(statistics.median(t), 3) for name, t in times.items()}
    best = min(by_setting, key=lambda name: by_setting[name])
    ordered = sorted(times[best])
    return {"p50": by_setting[best], "p95": round(ordered[int(0.95 * len(ordered))], 3), "setting": best,
            "by_setting_p50": by_setting, "service_p50": by_setting["intra 1"], "samples": samples}


def embed_ceiling(secs: float = 1.5) -> dict[str, Any]:
    """The most queries per second the model itself can embed on this machine, batching allowed: batch sizes
    1/8/32, either one session on every core (run by one thread, or by two as the service does), or one
    single-threaded session run by one thread per core.
    A closed loop of `c` clients cannot beat a mean latency of c / ceiling (Little's law), so this bounds
    `/retrieve` at high concurrency before any HTTP or search work."""
    import threading

    cores = len(os.sched_getaffinity(0))
    shared = _embedder(cores)
    layouts = {f"1 x intra {cores}": (shared, 1)}
    if cores > 1:
        layouts[f"{cores} x intra 1"] = (_embedder(1), cores)
        # The service's layout: two model threads on one session whose pool spans every core.
        layouts[f"2 x one intra {cores}"] = (shared, 2)
    # Batches mix the queries as the load does (`bench/workload.py` picks them at random): a fixed batch of the
    # first few queries pads to a shorter width than the service's batches do, and flatters the ceiling.
    rng = random.Random(3)
    mixes = {size: [rng.choices(synth.QUERIES, k=size) for _ in range(64)] for size in (1, 8, 32)}
    by_layout: dict[str, dict[str, float]] = {}
    for name, (embedder, runners) in layouts.items():
        for size, batches in mixes.items():
            embedder.embed(batches[0])
            done = [0] * runners
            stop = time.perf_counter() + secs

            def loop(k: int, embedder: Any = embedder, batches: list[list[str]] = batches, stop: float = stop,
                     done: list[int] = done) -> None:
                i = k
                while time.perf_counter() < stop:
                    batch = batches[i % len(batches)]
                    embedder.embed(batch)
                    done[k] += len(batch)
                    i += len(done)

            started = time.perf_counter()
            threads = [threading.Thread(target=loop, args=(k,)) for k in range(runners)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            by_layout.setdefault(name, {})[str(size)] = round(sum(done) / (time.perf_counter() - started), 1)
    best_layout, best_batch = max(((layout, size) for layout, rows in by_layout.items() for size in rows),
                                  key=lambda key: by_layout[key[0]][key[1]])
    best = by_layout[best_layout][best_batch]
    return {"threads": cores, "queries_per_s": by_layout, "best_qps": best,
            "best": f"{best_layout}, batch {best_batch}", "min_mean_ms_at_c32": round(32 / best * 1000, 1)}


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
