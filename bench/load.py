"""Closed-loop HTTP/1.1 load generator: N keep-alive connections, warm-up, then several timed rounds.

Runs in its own process (`run_load` spawns `python -m bench.load`), so its CPU shows up as a separate
process competing for the cores instead of sharing the benchmark driver's interpreter. The client is a
minimal asyncio HTTP/1.1 client on uvloop (a few microseconds per request, far below httpx), so the
server, not the client, is what saturates.

Each connection sends one request, reads the full response, records (start, end, status) and sends the
next. A round's latencies are those of requests *started* inside it; its throughput is responses
completed inside it per second. Reported values are medians over rounds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LoadSpec:
    url: str
    workload: str  # a name in bench.workload.FACTORIES
    params: dict[str, Any]
    concurrency: int
    warmup_secs: float = 1.0
    rounds: int = 3
    round_secs: float = 2.0
    more_urls: tuple[str, ...] = ()  # further servers of the same service: connections alternate between all


def run_load(spec: LoadSpec) -> dict[str, Any]:
    """Run the load in a child process and return its summary."""
    budget = spec.warmup_secs + spec.rounds * spec.round_secs + 60
    done = subprocess.run([sys.executable, "-m", "bench.load"], input=json.dumps(asdict(spec)).encode(),
                          capture_output=True, timeout=budget, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return json.loads(done.stdout)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            body += await reader.readexactly(size + 2)
            if size == 0:
                return status, body
    return status, await reader.readexactly(length) if length > 0 else b""


async def _connection(host: str, port: int, make: Any, stop_at: float, samples: list[tuple[float, float, int]],
                      check: Any) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    try:
        while clock() < stop_at:
            request = make()
            started = clock()
            writer.write(request)
            status, body = await _read_response(reader)
            ended = clock()
            if status == 200 and check is not None and not check(body):
                status = 299  # a 200 with the wrong body counts as an error
            samples.append((started, ended, status))
    finally:
        writer.close()


async def _drive(spec: LoadSpec) -> dict[str, Any]:
    from bench.workload import FACTORIES

    host_port = spec.url.split("//", 1)[1]
    make, check = FACTORIES[spec.workload](host_port, **spec.params)
    servers = [url.split("//", 1)[1].split(":") for url in (spec.url, *spec.more_urls)]
    samples: list[tuple[float, float, int]] = []
    t0 = time.perf_counter()
    stop_at = t0 + spec.warmup_secs + spec.rounds * spec.round_secs
    await asyncio.gather(*(_connection(servers[i % len(servers)][0], int(servers[i % len(servers)][1]), make,
                                       stop_at, samples, check) for i in range(spec.concurrency)))
    rounds = []
    for r in range(spec.rounds):
        start = t0 + spec.warmup_secs + r * spec.round_secs
        end = start + spec.round_secs
        lat = sorted((e - s) * 1000 for s, e, _ in samples if start <= s < end)
        completed = sum(1 for _, e, _ in samples if start <= e < end)
        errors = sum(1 for s, _, code in samples if start <= s < end and code != 200)
        rounds.append({"n": len(lat), "p50": _percentile(lat, 0.5), "p95": _percentile(lat, 0.95),
                       "p99": _percentile(lat, 0.99), "rps": completed / spec.round_secs, "errors": errors})
    summary = {key: round(statistics.median(r[key] for r in rounds), 3) for key in ("p50", "p95", "p99", "rps")}
    summary["requests"] = sum(r["n"] for r in rounds)
    summary["errors"] = sum(r["errors"] for r in rounds)
    summary["error_codes"] = sorted({code for _, _, code in samples if code != 200})
    summary["rounds"] = rounds
    return summary


def main() -> None:
    raw = json.loads(sys.stdin.read())
    spec = LoadSpec(**{**raw, "more_urls": tuple(raw.get("more_urls", ()))})
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    print(json.dumps(runner(_drive(spec))))


if __name__ == "__main__":
    main()
