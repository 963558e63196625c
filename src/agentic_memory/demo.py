"""`agentic-memory demo`: two calls from one caller against a running server, shown step by step."""

from __future__ import annotations

import json
import time
import uuid

import httpx
from rich.console import Console

from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign

CALLER = "+1 (555) 010-0199"
CALLER_E164 = "+15550100199"

FIRST_CALL = [
    ("agent", "Hello! Thanks for calling Bean There Coffee. How can I help you today?"),
    ("user", "Hi, my name's Stefan. I'd like to place a pickup order."),
    ("agent", "Of course, Stefan. What would you like?"),
    ("user", "A large latte. I prefer oat milk, and I'm allergic to hazelnut."),
    ("agent", "Got it: a large oat-milk latte, no hazelnut. Your order number is B-2291."),
    ("user", "Great. Please text me when it's ready, not a phone call."),
    ("agent", "Will do. See you soon!"),
]


def run_demo(url: str, *, workspace_key: str, hmac_key: str, console: Console) -> int:
    headers = {"X-Workspace-Key": workspace_key}
    with httpx.Client(base_url=url, timeout=30) as client:
        console.rule("Call 1: a new caller rings")
        first = client.post("/client-data", json={"caller_id": CALLER, "agent_id": builders.AGENT_ID,
                                                  "called_number": builders.AGENT_NUMBER, "call_sid": "CAdemo1"},
                            headers=headers)
        if first.status_code != 200:
            console.print(f"[red]client-data answered {first.status_code}: {first.text}[/red]")
            return 1
        body = first.json()
        console.print("first message:", body["conversation_config_override"]["agent"]["first_message"])
        console.print("returning caller:", body["dynamic_variables"]["returning_caller"])

        console.rule("Call 1 ends: ElevenLabs posts the signed transcript")
        conversation_id = "conv_demo_" + uuid.uuid4().hex[:16]
        payload = builders.transcription(
            conversation_id=conversation_id, caller=CALLER_E164, turns=FIRST_CALL, start_time=int(time.time()) - 120,
            summary="Stefan placed a pickup order for a large oat-milk latte (order B-2291) and asked for a text "
                    "when it is ready.", data={"caller_name": "Stefan"})
        raw = json.dumps(payload).encode()
        posted = client.post("/post-call", content=raw, headers={
            "ElevenLabs-Signature": sign(raw, hmac_key), "Content-Type": "application/json"})
        console.print("post-call answered", posted.status_code, posted.json())
        retry = client.post("/post-call", content=raw, headers={"ElevenLabs-Signature": sign(raw, hmac_key)})
        console.print("a retry of the same webhook answered", retry.status_code, "(stored once)")

        console.rule("Waiting for the worker to make it searchable")
        hits: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not hits:
            found = client.post("/retrieve", json={"query": "what milk do I like?", "user_id": CALLER}, headers=headers)
            hits = found.json().get("memories", []) if found.status_code == 200 else []
            if not hits:
                time.sleep(0.2)
        if not hits:
            console.print("[red]memories did not appear within 30 s[/red]")
            return 1

        console.rule("Call 2: the same caller rings again")
        second = client.post("/client-data", json={"caller_id": CALLER}, headers=headers).json()
        console.print("first message:", second["conversation_config_override"]["agent"]["first_message"])
        console.print("memory summary:", second["dynamic_variables"]["memory_summary"])
        console.print(second["dynamic_variables"]["caller_context"])

        for question in ("what was my order number?", "how should you contact me?", "what am I allergic to?"):
            console.rule(f"In-call search: {question!r}")
            found = client.post("/retrieve", json={"query": question, "user_id": CALLER, "limit": 3},
                                headers=headers).json()
            for hit in found["memories"]:
                console.print(f"  {hit['score']:.3f}  [{hit['metadata']['type']}] {hit['memory']}")
    return 0
