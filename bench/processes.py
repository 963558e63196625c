"""`python -m bench --processes N`: `/retrieve` and `/client-data` at concurrency 32 against 1..N API processes.

Every process is a separate `agentic-memory serve --no-worker` on the same database (whatever database the
servers are configured with: the `env` given to every server, e.g. `AGENTIC_MEMORY_DATABASE_URL`), with the
same keys; the load generator's connections alternate between the processes (one port each, as behind a
load balancer). On 2 cores this is a report: it says how the service scales when a machine has more cores.
"""

from __future__ import annotations

import secrets
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.latency import params
from bench.load import LoadSpec, run_load
from bench.server import Server

ENDPOINTS = ("retrieve", "client-data")


def run(max_processes: int, data_dir: Path | None, *, callers: int, env: dict[str, str] | None = None,
        concurrency: int = 32, rounds: int = 3, round_secs: float = 2.0, log: Any = print) -> dict[str, Any]:
    keys = {"workspace_key": "wk_bench_" + secrets.token_urlsafe(32), "hmac_key": "wsec_bench_" + secrets.token_hex(32)}
    out: dict[str, Any] = {"concurrency": concurrency, "callers": callers, "by_processes": {}}
    for n in range(1, max_processes + 1):
        with ExitStack() as stack:
            servers = [stack.enter_context(Server(data_dir=data_dir, extra_args=("--no-worker",), env=dict(env or {}),
                                                  **keys)) for _ in range(n)]
            first = servers[0]
            row: dict[str, Any] = {}
            for endpoint in ENDPOINTS:
                per_round = []
                for _ in range(rounds):
                    spec = LoadSpec(first.url, endpoint, params(endpoint, first, callers), concurrency, 0.5, 1,
                                    round_secs, more_urls=tuple(s.url for s in servers[1:]))
                    per_round.append(run_load(spec)["rounds"][0])
                row[endpoint] = {k: round(statistics.median(r[k] for r in per_round), 2) for k in ("p50", "p99", "rps")}
                row[endpoint]["errors"] = sum(r["errors"] for r in per_round)
                log(f"  {n} process(es) {endpoint:12s} c={concurrency} p50 {row[endpoint]['p50']:7.2f} ms  "
                    f"p99 {row[endpoint]['p99']:7.2f} ms  {row[endpoint]['rps']:7.0f} req/s")
            row["rss_mb_total"] = round(sum(s.rss().get("VmRSS", 0.0) for s in servers), 1)
            out["by_processes"][str(n)] = row
    return out


def markdown(result: dict[str, Any]) -> list[str]:
    lines = ["", "## API processes", "",
             (f"`python -m bench --processes N`: 1..N `serve --no-worker` processes on one database, "
              f"{result['concurrency']} keep-alive connections spread over them (a load balancer's view); medians "
              "of the rounds. On a machine with fewer cores than processes this shows the cost of the extra "
              "processes, not a gain."), "",
             "| processes | endpoint | p50 ms | p99 ms | req/s | RSS MB (all processes) |",
             "|---:|---|---:|---:|---:|---:|"]
    for n, row in result["by_processes"].items():
        for endpoint in ENDPOINTS:
            r = row[endpoint]
            lines.append(f"| {n} | `{endpoint}` | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} | "
                         f"{row['rss_mb_total']} |")
    return lines
