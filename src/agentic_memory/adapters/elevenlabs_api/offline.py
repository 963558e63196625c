"""An httpx transport that answers like a fresh ElevenLabs workspace, without network, for `--dry-run`.

The real SDK builds every request against it, so the dry-run shows exactly what a first `connect` sends.
New resources get placeholder ids such as `<tool_id>`.
"""

from __future__ import annotations

import json
import re

import httpx

_AGENT = re.compile(r"/v1/convai/agents/([^/]+)")


def _agent(agent_id: str) -> dict[str, object]:
    return {"agent_id": agent_id, "name": "", "conversation_config": {}, "platform_settings": {},
            "metadata": {"created_at_unix_secs": 0}, "tags": []}


def _answer(request: httpx.Request) -> httpx.Response:
    path, method = request.url.path, request.method
    body = json.loads(request.content) if request.content else {}
    agent = _AGENT.fullmatch(path)
    if agent:
        return httpx.Response(200, json=_agent(agent.group(1)))
    lists = {"/v1/convai/tools": {"tools": [], "has_more": False}, "/v1/convai/secrets": {"secrets": []},
             "/v1/workspace/webhooks": {"webhooks": []}, "/v1/convai/settings": {}}
    if method == "GET" and path in lists:
        return httpx.Response(200, json=lists[path])
    if method == "POST" and path == "/v1/convai/secrets":
        return httpx.Response(200, json={"type": "stored", "secret_id": "<secret_id>", "name": body.get("name")})
    if method == "POST" and path == "/v1/convai/tools":
        return httpx.Response(200, json={"id": "<tool_id>", "tool_config": body.get("tool_config"),
                                         "access_info": {}, "usage_stats": {}})
    if method == "POST" and path == "/v1/workspace/webhooks":
        return httpx.Response(200, json={"webhook_id": "<webhook_id>"})
    if method in ("PATCH", "DELETE"):
        return httpx.Response(200, json={})
    return httpx.Response(404, json={"detail": f"{method} {path} is not simulated by --dry-run"})


def offline_transport() -> httpx.MockTransport:
    return httpx.MockTransport(_answer)
