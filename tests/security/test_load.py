"""A bounded load run against the real server: 50 concurrent clients for 60 s, mixed traffic including bad
requests. Zero 5xx, zero lost webhooks; latencies printed per request kind."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from agentic_memory.elevenlabs import builders
from tests.security.conftest import auth_headers, signed_headers

DURATION_SECS = 60
CLIENTS = 50
WEBHOOKS_PER_SEC = 3.0  # ElevenLabs posts once per finished call; the worker embeds each transcript
CALLERS = [f"+1415555{2000 + i:04d}" for i in range(60)]
QUERIES = ["what did I order last time", "my booking", "do I prefer email or phone", "allergies", "refund status"]


class Load:
    def __init__(self, url: str, seed: int) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.unexpected: list[tuple[str, str]] = []
        self.acked: set[tuple[str, str]] = set()
        self.sent_webhooks = 0
        self.next_webhook = time.monotonic()
        self.stop_at = time.monotonic() + DURATION_SECS

    def _webhook(self) -> tuple[str, str, bytes]:
        n = self.sent_webhooks
        self.sent_webhooks += 1
        cid = f"conv_load_{n // 2:05d}"
        caller = CALLERS[(n // 2) % len(CALLERS)]
        if n % 2 == 0:
            turns = [("agent", "Hi, how can I help?"), ("user", f"My order number is B-{n}. I prefer email."),
                     ("user", f"I'm allergic to peanuts, booking for {n % 9 + 1} people.")]
            body = builders.transcription(conversation_id=cid, caller=caller, turns=turns,
                                          start_time=int(time.time()) - 300 + n, summary=f"Order B-{n}.")
            return cid, "post_call_transcription", json.dumps(body).encode()
        body = builders.audio(conversation_id=cid, mp3=builders.FAKE_MP3 + cid.encode())
        return cid, "post_call_audio", json.dumps(body).encode()

    def _request(self) -> tuple[str, str, dict[str, object], set[int], tuple[str, str] | None]:
        """(kind, path, httpx kwargs, expected statuses, webhook key)."""
        caller = self.rng.choice(CALLERS)
        typed = self.rng.choice([caller, f"({caller[2:5]}) {caller[5:8]}-{caller[8:]}", caller[1:]])
        if time.monotonic() >= self.next_webhook:
            self.next_webhook = max(self.next_webhook + 1 / WEBHOOKS_PER_SEC, time.monotonic() - 1)
            cid, kind, raw = self._webhook()
            return "post-call", "/post-call", {"content": raw, "headers": signed_headers(raw)}, {200}, (cid, kind)
        roll = self.rng.random()
        if roll < 0.42:
            return "client-data", "/client-data", {"json": {"caller_id": typed, "agent_id": builders.AGENT_ID},
                                                   "headers": auth_headers()}, {200}, None
        if roll < 0.84:
            body = {"query": self.rng.choice(QUERIES), "user_id": typed, "limit": self.rng.randint(1, 20)}
            return "retrieve", "/retrieve", {"json": body, "headers": auth_headers()}, {200}, None
        bad = self.rng.choice([
            ("/client-data", {"json": {"caller_id": caller}, "headers": {"X-Workspace-Key": "amk_wrong_" + "x" * 20}},
             {401}),
            ("/retrieve", {"json": {"query": "x", "user_id": caller}}, {401}),
            ("/client-data", {"json": {"caller_id": 12345}, "headers": auth_headers()}, {400}),
            ("/retrieve", {"json": {"query": "x", "user_id": caller, "limit": 500}, "headers": auth_headers()}, {400}),
            ("/client-data", {"content": b"{oops", "headers": auth_headers()}, {400}),
            ("/client-data", {"content": b" " * 70_000, "headers": auth_headers()}, {413}),
            ("/post-call", {"content": b'{"type": "post_call_audio"}', "headers": signed_headers(b"{}")}, {401}),
            ("/post-call", {"content": b"[1, 2", "headers": signed_headers(b"[1, 2")}, {400}),
        ])
        return "bad request", bad[0], bad[1], bad[2], None

    async def client(self, http: httpx.AsyncClient) -> None:
        while time.monotonic() < self.stop_at:
            kind, path, kwargs, expected, webhook = self._request()
            started = time.perf_counter()
            try:
                response = await http.post(path, **kwargs)
                outcome = str(response.status_code)
            except httpx.TimeoutException:
                outcome = "timeout"
            except httpx.TransportError as exc:
                outcome = f"connection error {exc.__class__.__name__}"
            self.latencies[kind].append(time.perf_counter() - started)
            self.outcomes[(kind, outcome)] += 1
            if not outcome.isdigit() or int(outcome) not in expected:
                self.unexpected.append((f"{kind} {path}", outcome))
            elif webhook:
                self.acked.add(webhook)

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=self.url, timeout=30.0, limits=limits) as http:
            await asyncio.gather(*(self.client(http) for _ in range(CLIENTS)))

    def report(self) -> str:
        lines = [f"{'kind':<12} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
        for kind, values in sorted(self.latencies.items()):
            ms = sorted(v * 1000 for v in values)
            q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
            lines.append(f"{kind:<12} {len(ms):>6} {q[49]:>8.1f} {q[94]:>8.1f} {q[98]:>8.1f} {ms[-1]:>8.1f}")
        total = sum(len(v) for v in self.latencies.values())
        lines.append(f"{total} requests in {DURATION_SECS} s ({total / DURATION_SECS:.0f}/s), "
                     f"outcomes {dict(sorted(self.outcomes.items()))}")
        return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_mixed_load_has_no_5xx_and_loses_no_webhook(server_factory):
    server = server_factory()
    server.start()
    load = Load(server.url, seed=4)
    asyncio.run(load.run())
    drain_started = time.monotonic()
    health = server.wait_drained(timeout=120)
    print(f"\n{load.report()}\nqueue drained {time.monotonic() - drain_started:.1f}s after the run: {health}")
    server.stop()

    assert not [o for o in load.outcomes if o[1].isdigit() and int(o[1]) >= 500], load.outcomes
    assert not load.unexpected, Counter(load.unexpected).most_common(10)
    assert len(load.acked) == load.sent_webhooks >= DURATION_SECS * WEBHOOKS_PER_SEC * 0.8
    assert sum(n for (kind, _), n in load.outcomes.items() if kind == "bad request") > 0
    assert health["queue"] == {"pending": 0, "dead": 0}
    _assert_all_processed(server.data_dir, load.acked)


def _assert_all_processed(data_dir: Path, acked: set[tuple[str, str]]) -> None:
    db = sqlite3.connect(f"file:{data_dir / 'agentic_memory.sqlite3'}?mode=ro", uri=True)
    try:
        rows = {(cid, kind): status for cid, kind, status in
                db.execute("SELECT conversation_id, event_type, status FROM inbox")}
        assert set(rows) == acked
        assert set(rows.values()) == {"done"}
        transcripts = {cid for cid, kind in acked if kind == "post_call_transcription"}
        processed = {r[0] for r in db.execute("SELECT conversation_id FROM conversations")}
        assert processed == transcripts
        audio = {r[0] for r in db.execute("SELECT conversation_id FROM call_files WHERE kind = 'audio'")}
        assert audio == {cid for cid, kind in acked if kind == "post_call_audio"}
    finally:
        db.close()
