"""Part 2: hang-up to searchable, and sustained ingest throughput, through the real worker.

Hang-up to searchable: a signed 20-turn `post_call_transcription` for a new caller is posted; the clock
starts at its 200 and stops when `/retrieve` for that caller first returns the order number said in the
call. The probe waits on `/health`'s queue count (every POLL_SECS/2) before asking `/retrieve` (every
POLL_SECS), so it does not compete with the worker for the CPU. Calls go one at a time to an idle server.
Sustained: CALLS webhooks are posted back to back; throughput is calls / (time until the queue is empty).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx

from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign
from bench import synth
from bench.server import Server

POLL_SECS = 0.02
TIMEOUT_SECS = 30.0


def _webhook(index: int, tag: str) -> tuple[synth.Caller, bytes]:
    c = synth.caller(index)
    payload = builders.transcription(conversation_id=f"conv_ingest_{tag}_{index}", caller=c.phone,
                                     turns=synth.call_turns(c, 20), start_time=int(time.time()) - 200,
                                     summary=synth.summary(c), language=c.language,
                                     data={"caller_name": c.first_name})
    return c, json.dumps(payload).encode()


def _post(client: httpx.Client, body: bytes, hmac_key: str) -> None:
    r = client.post("/post-call", content=body, headers={"ElevenLabs-Signature": sign(body, hmac_key),
                                                         "Content-Type": "application/json"})
    r.raise_for_status()


def _searchable(client: httpx.Client, c: synth.Caller) -> bool:
    query, expected = synth.query_for(c)
    r = client.post("/retrieve", json={"query": query, "user_id": c.phone, "limit": 5})
    r.raise_for_status()
    return any(expected in m["memory"] for m in r.json()["memories"])


def hang_up_to_searchable(client: httpx.Client, hmac_key: str, *, samples: int) -> list[float]:
    out = []
    for i in range(samples):
        c, body = _webhook(700_000 + i, "latency")
        _post(client, body, hmac_key)
        acked = time.perf_counter()
        # Wait on the cheap queue count first, so the probe does not steal the worker's CPU with an
        # embedding every POLL_SECS; the clock stops only when /retrieve returns the fact.
        while client.get("/health").json()["queue"]["pending"] > 0 and time.perf_counter() - acked < TIMEOUT_SECS:
            time.sleep(POLL_SECS / 2)
        while not _searchable(client, c):
            if time.perf_counter() - acked > TIMEOUT_SECS:
                raise RuntimeError(f"call {i} not searchable after {TIMEOUT_SECS} s")
            time.sleep(POLL_SECS)
        out.append((time.perf_counter() - acked) * 1000)
    return out


def sustained(client: httpx.Client, hmac_key: str, *, calls: int) -> dict[str, float]:
    bodies = [_webhook(800_000 + i, "sustained") for i in range(calls)]
    started = time.perf_counter()
    acks = []
    for _, body in bodies:
        t = time.perf_counter()
        _post(client, body, hmac_key)
        acks.append((time.perf_counter() - t) * 1000)
    posted = time.perf_counter() - started
    while client.get("/health").json()["queue"]["pending"] > 0:
        if time.perf_counter() - started > TIMEOUT_SECS * calls:
            raise RuntimeError("queue did not drain")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if not _searchable(client, bodies[-1][0]):
        raise RuntimeError("last sustained call is not searchable")
    return {"calls": calls, "post_secs": round(posted, 2), "drain_secs": round(elapsed, 2),
            "calls_per_sec": round(calls / elapsed, 2), "ack_p50_ms": round(statistics.median(acks), 2)}


def run(*, samples: int = 20, calls: int = 60, log: Any = print) -> dict[str, Any]:
    with Server() as server, httpx.Client(base_url=server.url, timeout=30,
                                          headers={"X-Workspace-Key": server.workspace_key}) as client:
        hang_up_to_searchable(client, server.hmac_key, samples=2)  # warm-up
        times = sorted(hang_up_to_searchable(client, server.hmac_key, samples=samples))
        result: dict[str, Any] = {
            "turns": 20, "samples": samples, "poll_ms": POLL_SECS * 1000,
            "searchable_p50_ms": round(statistics.median(times), 1),
            "searchable_p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
            "searchable_max_ms": round(times[-1], 1)}
        log(f"  hang-up to searchable: p50 {result['searchable_p50_ms']} ms, p95 {result['searchable_p95_ms']} ms")
        result["sustained"] = sustained(client, server.hmac_key, calls=calls)
        log(f"  sustained ingest: {result['sustained']['calls_per_sec']} calls/s")
        result["rss_mb"] = server.rss()
    return result
