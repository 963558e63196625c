"""Request factories for the load generator: each returns (make_request_bytes, check_body or None).

Requests are pre-built where they may repeat (client-data, retrieve) so the client spends its time on
the socket; post-call webhooks are all distinct (fresh conversation id, fresh signature).
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable

from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign
from bench import synth

Factory = tuple[Callable[[], bytes], Callable[[bytes], bool] | None]
POOL = 2000


def _post(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _cycle(requests: list[bytes]) -> Callable[[], bytes]:
    it = itertools.cycle(requests)
    return lambda: next(it)


def health(host: str) -> Factory:
    request = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    return (lambda: request), (lambda body: b'"status":"ok"' in body)


def client_data(host: str, *, workspace_key: str, callers: int, seed: int = 7, unknown_share: float = 0.1) -> Factory:
    rng = random.Random(1)
    requests = []
    for n in range(POOL):
        known = rng.random() >= unknown_share  # unknown: a number that never called, the new-caller path
        phone = synth.caller(rng.randrange(callers), seed).phone if known else f"+1628555{n:04d}"
        body = json.dumps({"caller_id": phone, "agent_id": builders.AGENT_ID,
                           "called_number": builders.AGENT_NUMBER, "call_sid": f"CA{n:032d}"}).encode()
        requests.append(_post(host, "/client-data", body, {"X-Workspace-Key": workspace_key}))
    return _cycle(requests), (lambda body: b"conversation_initiation_client_data" in body)


def retrieve(host: str, *, workspace_key: str, callers: int, seed: int = 7, limit: int = 10) -> Factory:
    rng = random.Random(2)
    requests = []
    for _ in range(POOL):
        phone = synth.caller(rng.randrange(callers), seed).phone
        body = json.dumps({"query": rng.choice(synth.QUERIES), "user_id": phone, "limit": limit}).encode()
        requests.append(_post(host, "/retrieve", body, {"X-Workspace-Key": workspace_key}))
    return _cycle(requests), (lambda body: body.startswith(b'{"memories":[{'))


def post_call(host: str, *, hmac_key: str, seed: int = 7) -> Factory:
    """Every request a distinct signed 20-turn `post_call_transcription` (new conversation id)."""
    marker = "conv_BENCHMARKERXXXXXXXXXXXXXXXXXXX"
    templates = []
    for i in range(50):
        c = synth.caller(900_000 + i, seed)
        payload = builders.transcription(conversation_id=marker, caller=c.phone, turns=synth.call_turns(c),
                                         start_time=int(time.time()) - 300, summary=synth.summary(c),
                                         language=c.language)
        templates.append(json.dumps(payload).encode())
    counter = itertools.count()
    prefix = f"conv_{int(time.time() * 1000) % 10**10:010d}_"

    def make() -> bytes:
        n = next(counter)
        body = templates[n % len(templates)].replace(marker.encode(), f"{prefix}{n:024d}".encode())
        return _post(host, "/post-call", body, {"ElevenLabs-Signature": sign(body, hmac_key)})

    return make, (lambda body: body == b'{"status":"ok"}')


FACTORIES: dict[str, Callable[..., Factory]] = {
    "health": health, "client-data": client_data, "retrieve": retrieve, "post-call": post_call}
