"""Part 3: how `/retrieve` and `/client-data` latency, database size and server memory grow with callers.

Each level is bulk-loaded once through the product's store adapter (see bench/bulk.py) into
bench/results/cache/ (git-ignored) and reused by later runs; queries always go through HTTP to a real
server started on that data dir (the default `serve`, worker included and idle).
"""

from __future__ import annotations

import json
import shutil
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import bulk
from bench.load import LoadSpec, run_load
from bench.server import Server

CACHE = Path(__file__).resolve().parent / "results" / "cache"


def db_size_mb(data_dir: Path) -> float:
    return round(sum(p.stat().st_size for p in data_dir.glob("agentic_memory.sqlite3*")) / 2**20, 1)


def level_dir(n: int) -> Path:
    """Keyed by the schema too: a server would otherwise migrate a stale cache at startup (for 1M memories a
    long re-index), and the level would no longer be what the loader built."""
    from agentic_memory.adapters.sqlite.database import _migrations

    schema = max(version for version, _ in _migrations())
    return CACHE / f"callers-{n}-g{bulk.GENERATOR_VERSION}-s{schema}"


def ensure_level(n: int, *, log: Any = print) -> tuple[Path, dict[str, Any]]:
    """The cached data dir for `n` callers, building it when missing."""
    data_dir = level_dir(n)
    marker = data_dir / "loaded.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        info["reused_cache"] = True
        return data_dir, info
    shutil.rmtree(data_dir, ignore_errors=True)
    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

    log(f"  building {n} callers in {data_dir} ...")
    info = bulk.load(data_dir, n, embedder=OnnxEmbedder(threads=2), log=log)
    marker.write_text(json.dumps(info))
    info["reused_cache"] = False
    return data_dir, info


def fresh_copy(n: int, into: Path, *, log: Any = print) -> Path:
    """A throwaway copy of level `n` (for servers that write, like the latency run's post-call rows)."""
    source, _ = ensure_level(n, log=log)
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "agentic_memory.sqlite3", into / "agentic_memory.sqlite3")
    return into


WARMUP_SECS = 3.0


def run(levels: tuple[int, ...], *, concurrencies: tuple[int, ...] = (1, 8), rounds: int = 3,
        round_secs: float = 2.0, database: str = "sqlite", log: Any = print) -> dict[str, Any]:
    """One server per level, all up at once; rounds alternate between levels so that noise from other
    tenants of the machine lands on every level alike and the ratios between levels stay comparable.

    `database="postgresql"`: each level's cached PostgreSQL copy (bench/postgres.py) is measured, and the
    SQLite servers run beside them in the same alternation; each level's row then holds PostgreSQL's
    figures, with SQLite's under "sqlite"."""
    out: dict[str, Any] = {}
    dirs = {}
    for n in levels:
        dirs[n], info = ensure_level(n, log=log)
        out[str(n)] = {"load": info, "db_mb": db_size_mb(dirs[n]), "endpoints": {}, "database": "sqlite"}
    with ExitStack() as stack:
        servers = {("sqlite", n): stack.enter_context(Server(data_dir=dirs[n])) for n in levels}
        if database == "postgresql":
            from bench import postgres

            for n in levels:
                sqlite_row = out[str(n)]
                _, info = postgres.ensure_level(n, log=log)
                url = stack.enter_context(postgres.cached_server(n, log=log))
                out[str(n)] = {"load": info, "db_mb": postgres.database_mb(url), "endpoints": {},
                               "database": "postgresql", "sqlite": sqlite_row}
                servers["postgresql", n] = stack.enter_context(Server(env={"AGENTIC_MEMORY_DATABASE_URL": url}))

        def row(backend: str, n: int) -> dict[str, Any]:
            return out[str(n)] if backend == database else out[str(n)]["sqlite"]

        for (backend, n), server in servers.items():
            row(backend, n)["rss_idle_mb"] = server.rss()
        # Warm-up, not measured: a server in steady state has read its callers' pages into the OS cache. Without
        # it the first rounds of the 2.9 GB level paid disk reads once (client-data 100k/1k 1.36x in one run,
        # 0.95x in the next).
        for (_, n), server in servers.items():
            for endpoint in ("client-data", "retrieve"):
                params = {"workspace_key": server.workspace_key, "callers": n}
                run_load(LoadSpec(server.url, endpoint, params, 8, WARMUP_SECS, 1, 0.5))
        for endpoint in ("client-data", "retrieve"):
            for c in concurrencies:
                per_round: dict[tuple[str, int], list[dict[str, Any]]] = {key: [] for key in servers}
                for _ in range(rounds):
                    for (backend, n), server in servers.items():
                        params = {"workspace_key": server.workspace_key, "callers": n}
                        spec = LoadSpec(server.url, endpoint, params, c, 0.5, 1, round_secs)
                        per_round[backend, n].append(run_load(spec)["rounds"][0])
                for backend, n in servers:
                    rows = per_round[backend, n]
                    result = {k: round(statistics.median(r[k] for r in rows), 3) for k in ("p50", "p95", "p99", "rps")}
                    result["errors"] = sum(r["errors"] for r in rows)
                    row(backend, n)["endpoints"].setdefault(endpoint, {})[str(c)] = result
                    log(f"  {backend:10s} {n:>7d} callers {endpoint:12s} c={c:<2d} p50 {result['p50']:7.2f} ms  "
                        f"p99 {result['p99']:7.2f} ms  {result['rps']:6.0f} req/s  errors {result['errors']}")
        for (backend, n), server in servers.items():
            target = row(backend, n)
            target["rss_mb"] = server.rss()
            log(f"  {backend:10s} {n:>7d} callers: {target['load']['memories']} memories, db {target['db_mb']} MB, "
                f"rss {target['rss_mb']}")
    return out
