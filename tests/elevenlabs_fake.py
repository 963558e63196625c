"""A fake ElevenLabs API served over real HTTP on 127.0.0.1, for the `elevenlabs` commands' tests.

It holds state like the real API (agents, tools, workspace secrets, webhooks, settings, phone numbers,
conversations), validates every request body with the SDK's own request models (422 otherwise, as the
real API answers), records each request, and can be set up with broken configurations for `check`.
Agent and settings PATCHes merge (null deletes), as the real API's partial updates do.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from elevenlabs.types import (
    AgentPlatformSettingsRequestModel,
    ConvAiWebhooks,
    ConversationalConfig,
    ConversationInitiationClientDataRequestInput,
    ConversationInitiationClientDataWebhook,
    ToolRequestModel,
    WebhookHmacSettings,
    WebhookToolConfigInput,
)
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from agentic_memory.testing import merge_patch as merge

API_KEY = "sk_fake_elevenlabs_api_key_0123456789"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeElevenLabs:
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    phone_numbers: list[dict[str, Any]] = field(default_factory=list)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    audio: dict[str, bytes] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    rate_limit_next: int = 0  # answer this many of the next requests with 429 (Retry-After: 0)
    refuse: set[tuple[str, str]] = field(default_factory=set)  # (method, path) answered 422
    page_size_cap: int = 100

    # set-up helpers -----------------------------------------------------------------------------
    def add_agent(self, agent_id: str, *, tool_ids: list[str] | None = None,
                  platform_settings: dict[str, Any] | None = None) -> None:
        self.agents[agent_id] = {
            "agent_id": agent_id, "name": "Front Desk", "tags": [],
            "metadata": {"created_at_unix_secs": 1767225600, "updated_at_unix_secs": 1767225600},
            "conversation_config": {"agent": {"first_message": "Hello!", "language": "en",
                                              "prompt": {"prompt": "You are the front desk.", "llm": "gpt-4o-mini",
                                                         "tool_ids": list(tool_ids or [])}}},
            "platform_settings": platform_settings or {
                "overrides": {"enable_conversation_initiation_client_data_from_webhook": False,
                              "conversation_config_override": {"agent": {"first_message": False,
                                                                         "language": False,
                                                                         "prompt": {"prompt": False}}}}},
        }

    def add_tool(self, tool_config: dict[str, Any]) -> str:
        tool_id = "tool_" + secrets.token_hex(6)
        self.tools[tool_id] = self._tool(tool_id, tool_config)
        return tool_id

    def add_webhook(self, url: str, **fields: Any) -> str:
        webhook_id = "wh_" + secrets.token_hex(6)
        self.webhooks[webhook_id] = {"webhook_id": webhook_id, "name": "hand-made", "webhook_url": url,
                                     "is_disabled": False, "is_auto_disabled": False, "auth_type": "hmac",
                                     "created_at_unix": 1767225600, "retry_enabled": False,
                                     "secret": "wsec_" + secrets.token_hex(16), **fields}
        return webhook_id

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    # state helpers ----------------------------------------------------------------------------
    @staticmethod
    def _tool(tool_id: str, tool_config: dict[str, Any]) -> dict[str, Any]:
        # The real API echoes defaults we did not send; so does the fake, to keep clients honest.
        config = json.loads(json.dumps(tool_config))
        config.setdefault("disable_interruptions", False)
        config.setdefault("execution_mode", "immediate")
        return {"id": tool_id, "tool_config": config,
                "access_info": {"is_creator": True, "creator_name": "Ops", "creator_email": "ops@example.com",
                                "role": "admin"},
                "usage_stats": {"avg_latency_secs": 0.0, "total_calls": 0}}

    def agents_using_tool(self, tool_id: str) -> list[str]:
        return [a for a, agent in self.agents.items()
                if tool_id in agent["conversation_config"].get("agent", {}).get("prompt", {}).get("tool_ids", [])]

    def _secret_users(self, secret_id: str) -> dict[str, Any]:
        needle = json.dumps({"secret_id": secret_id})
        tools = [{"type": "available", "id": t, "name": tool["tool_config"]["name"],
                  "created_at_unix_secs": 0, "access_level": "admin"}
                 for t, tool in self.tools.items() if needle in json.dumps(tool)]
        agents = [{"type": "available", "id": a, "name": agent["name"], "created_at_unix_secs": 0,
                   "access_level": "admin", "referenced_resource_ids": []}
                  for a, agent in self.agents.items() if needle in json.dumps(agent["platform_settings"])]
        others = ["conversation_initiation_webhook"] if needle in json.dumps(self.settings) else []
        return {"tools": tools, "agents": agents, "others": others, "phone_numbers": []}

    def _webhook_view(self, hook: dict[str, Any], usages: bool) -> dict[str, Any]:
        view = {k: v for k, v in hook.items() if k != "secret"}
        if usages:
            usage = []
            if any((a["platform_settings"].get("workspace_overrides") or {}).get("webhooks", {}) and
                   a["platform_settings"]["workspace_overrides"]["webhooks"].get("post_call_webhook_id")
                   == hook["webhook_id"] for a in self.agents.values()):
                usage.append({"usage_type": "ConvAI Agent Settings"})
            if (self.settings.get("webhooks") or {}).get("post_call_webhook_id") == hook["webhook_id"]:
                usage.append({"usage_type": "ConvAI Settings"})
            view["usage"] = usage
        return view


def _invalid(exc: ValidationError) -> JSONResponse:
    return JSONResponse({"detail": json.loads(exc.json())}, status_code=422)


def _validate(model: type[BaseModel], value: Any) -> None:
    if value is not None:
        model.model_validate(value)


def create_fake_app(state: FakeElevenLabs) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        raw = await request.body()
        body = json.loads(raw) if raw and request.headers.get("content-type", "").startswith("application/json") \
            else None
        state.requests.append(Recorded(request.method, request.url.path, dict(request.query_params), body))
        if request.headers.get("xi-api-key") != API_KEY:
            return JSONResponse({"detail": {"status": "invalid_api_key"}}, status_code=401)
        if (request.method, request.url.path) in state.refuse:
            return JSONResponse({"detail": "refused by the test"}, status_code=422)
        if state.rate_limit_next > 0:
            state.rate_limit_next -= 1
            return JSONResponse({"detail": "rate limited"}, status_code=429, headers={"Retry-After": "0"})
        try:
            return await call_next(request)
        except ValidationError as exc:
            return _invalid(exc)

    def missing(what: str) -> JSONResponse:
        return JSONResponse({"detail": {"status": "not_found", "message": f"{what} not found"}}, status_code=404)

    # agents
    @app.get("/v1/convai/agents/{agent_id}")
    def get_agent(agent_id: str) -> Any:
        return state.agents.get(agent_id) or missing(agent_id)

    @app.patch("/v1/convai/agents/{agent_id}")
    async def update_agent(agent_id: str, request: Request) -> Any:
        agent = state.agents.get(agent_id)
        if agent is None:
            return missing(agent_id)
        body = await request.json()
        _validate(ConversationalConfig, body.get("conversation_config"))
        _validate(AgentPlatformSettingsRequestModel, body.get("platform_settings"))
        merge(agent, {k: v for k, v in body.items() if k in ("conversation_config", "platform_settings")})
        return agent

    # tools
    @app.get("/v1/convai/tools")
    def list_tools(cursor: str | None = None, page_size: int = 30) -> Any:
        ids = sorted(state.tools)
        start = ids.index(cursor) if cursor in ids else 0
        size = min(page_size, state.page_size_cap)
        page = ids[start:start + size]
        more = start + size < len(ids)
        return {"tools": [state.tools[i] for i in page], "has_more": more,
                "next_cursor": ids[start + size] if more else None}

    async def tool_body(request: Request) -> dict[str, Any]:
        body = await request.json()
        ToolRequestModel.model_validate(body)
        WebhookToolConfigInput.model_validate(body["tool_config"])  # we only ever send webhook tools
        config: dict[str, Any] = body["tool_config"]
        return config

    @app.post("/v1/convai/tools")
    async def create_tool(request: Request) -> Any:
        tool_id = state.add_tool(await tool_body(request))
        return state.tools[tool_id]

    @app.patch("/v1/convai/tools/{tool_id}")
    async def update_tool(tool_id: str, request: Request) -> Any:
        if tool_id not in state.tools:
            return missing(tool_id)
        state.tools[tool_id] = state._tool(tool_id, await tool_body(request))
        return state.tools[tool_id]

    @app.delete("/v1/convai/tools/{tool_id}")
    def delete_tool(tool_id: str) -> Any:
        if state.tools.pop(tool_id, None) is None:
            return missing(tool_id)
        return Response(status_code=204)

    @app.get("/v1/convai/tools/{tool_id}/dependent-agents")
    def tool_users(tool_id: str) -> Any:
        return {"agents": [{"type": "available", "id": a, "name": state.agents[a]["name"],
                            "created_at_unix_secs": 0, "access_level": "admin", "referenced_resource_ids": []}
                           for a in state.agents_using_tool(tool_id)], "has_more": False}

    # workspace secrets
    @app.get("/v1/convai/secrets")
    def list_secrets() -> Any:
        return {"secrets": [{"type": "stored", "secret_id": s["secret_id"], "name": s["name"],
                             "used_by": state._secret_users(s["secret_id"])} for s in state.secrets.values()]}

    @app.post("/v1/convai/secrets")
    async def create_secret(request: Request) -> Any:
        body = await request.json()
        if body.get("type") != "new" or not body.get("name") or not body.get("value"):
            return JSONResponse({"detail": "type=new, name and value are required"}, status_code=422)
        if any(s["name"] == body["name"] for s in state.secrets.values()):
            return JSONResponse({"detail": "a secret with this name exists"}, status_code=400)
        secret_id = "sec_" + secrets.token_hex(6)
        state.secrets[secret_id] = {"secret_id": secret_id, "name": body["name"], "value": body["value"]}
        return {"type": "stored", "secret_id": secret_id, "name": body["name"]}

    @app.delete("/v1/convai/secrets/{secret_id}")
    def delete_secret(secret_id: str) -> Any:
        if secret_id not in state.secrets:
            return missing(secret_id)
        if any(state._secret_users(secret_id).values()):
            return JSONResponse({"detail": "secret is in use"}, status_code=400)
        del state.secrets[secret_id]
        return Response(status_code=204)

    # workspace settings
    @app.get("/v1/convai/settings")
    def get_settings() -> Any:
        return state.settings

    @app.patch("/v1/convai/settings")
    async def update_settings(request: Request) -> Any:
        body = await request.json()
        _validate(ConversationInitiationClientDataWebhook, body.get("conversation_initiation_client_data_webhook"))
        _validate(ConvAiWebhooks, body.get("webhooks"))
        merge(state.settings, body)
        return state.settings

    # workspace webhooks
    @app.get("/v1/workspace/webhooks")
    def list_webhooks(include_usages: bool = False) -> Any:
        return {"webhooks": [state._webhook_view(h, include_usages) for h in state.webhooks.values()]}

    @app.post("/v1/workspace/webhooks")
    async def create_webhook(request: Request) -> Any:
        body = await request.json()
        settings = WebhookHmacSettings.model_validate(body["settings"])
        webhook_id = state.add_webhook(settings.webhook_url, name=settings.name)
        return {"webhook_id": webhook_id, "webhook_secret": state.webhooks[webhook_id]["secret"]}

    @app.patch("/v1/workspace/webhooks/{webhook_id}")
    async def update_webhook(webhook_id: str, request: Request) -> Any:
        hook = state.webhooks.get(webhook_id)
        if hook is None:
            return missing(webhook_id)
        body = await request.json()
        if not isinstance(body.get("is_disabled"), bool) or not isinstance(body.get("name"), str):
            return JSONResponse({"detail": "is_disabled and name are required"}, status_code=422)
        hook.update(name=body["name"], is_disabled=body["is_disabled"])
        if body["is_disabled"] is False:
            hook["is_auto_disabled"] = False
        if isinstance(body.get("retry_enabled"), bool):
            hook["retry_enabled"] = body["retry_enabled"]
        return {"status": "ok"}

    @app.delete("/v1/workspace/webhooks/{webhook_id}")
    def delete_webhook(webhook_id: str) -> Any:
        if state.webhooks.pop(webhook_id, None) is None:
            return missing(webhook_id)
        return {"status": "ok"}

    # phone numbers and outbound calls
    @app.get("/v1/convai/phone-numbers")
    def list_phone_numbers(agent_id: str | None = None) -> Any:
        return [n for n in state.phone_numbers
                if agent_id is None or (n.get("assigned_agent") or {}).get("agent_id") == agent_id]

    @app.post("/v1/convai/twilio/outbound-call")
    async def twilio_outbound(request: Request) -> Any:
        body = await request.json()
        _validate(ConversationInitiationClientDataRequestInput, body.get("conversation_initiation_client_data"))
        for name in ("agent_id", "agent_phone_number_id", "to_number"):
            if not isinstance(body.get(name), str):
                return JSONResponse({"detail": f"{name} is required"}, status_code=422)
        return {"success": True, "message": "Call initiated", "conversation_id": "conv_outbound_0001",
                "callSid": "CA" + "0" * 32}

    # past conversations
    @app.get("/v1/convai/conversations")
    def list_conversations(agent_id: str | None = None, cursor: str | None = None, page_size: int = 30,
                           call_start_after_unix: int | None = None) -> Any:
        rows = sorted((c for c in state.conversations.values()
                       if (agent_id is None or c["agent_id"] == agent_id)
                       and (call_start_after_unix is None
                            or c["metadata"]["start_time_unix_secs"] >= call_start_after_unix)),
                      key=lambda c: -c["metadata"]["start_time_unix_secs"])
        start = int(cursor) if cursor else 0
        size = min(page_size, state.page_size_cap)
        page = rows[start:start + size]
        more = start + size < len(rows)
        return {"conversations": [{
            "agent_id": c["agent_id"], "conversation_id": c["conversation_id"], "agent_name": c.get("agent_name"),
            "start_time_unix_secs": c["metadata"]["start_time_unix_secs"],
            "call_duration_secs": c["metadata"]["call_duration_secs"], "message_count": len(c["transcript"]),
            "status": c["status"], "call_successful": c["analysis"]["call_successful"],
            "direction": (c["metadata"].get("phone_call") or {}).get("direction")} for c in page],
            "has_more": more, "next_cursor": str(start + size) if more else None}

    @app.get("/v1/convai/conversations/{conversation_id}")
    def get_conversation(conversation_id: str) -> Any:
        return state.conversations.get(conversation_id) or missing(conversation_id)

    @app.get("/v1/convai/conversations/{conversation_id}/audio")
    def get_audio(conversation_id: str) -> Any:
        if conversation_id not in state.audio:
            return missing(conversation_id)
        return Response(state.audio[conversation_id], media_type="audio/mpeg")

    return app


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# What the ElevenLabs runtime does with the configuration during a call ----------------------------------
def resolve_headers(state: FakeElevenLabs, headers: dict[str, Any]) -> dict[str, str]:
    """Header values: literal strings, or {"secret_id"} read from the workspace secrets."""
    out = {}
    for name, value in headers.items():
        out[name] = state.secrets[value["secret_id"]]["value"] if isinstance(value, dict) else str(value)
    return out


def tool_call(state: FakeElevenLabs, tool_id: str, *, dynamic_variables: dict[str, str],
              llm_arguments: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The request a webhook tool makes: dynamic-variable properties come from the conversation, only
    `description` properties from the LLM (whatever else the LLM tries to pass is dropped)."""
    schema = state.tools[tool_id]["tool_config"]["api_schema"]
    body: dict[str, Any] = {}
    for name, prop in schema["request_body_schema"]["properties"].items():
        if prop.get("dynamic_variable"):
            body[name] = dynamic_variables[prop["dynamic_variable"]]
        elif prop.get("description") and name in llm_arguments:
            body[name] = llm_arguments[name]
    return schema["url"], resolve_headers(state, schema.get("request_headers") or {}), body


def init_webhook_call(state: FakeElevenLabs, agent_id: str) -> tuple[str, dict[str, str]]:
    """Where ElevenLabs sends the conversation-initiation request for an inbound call to this agent."""
    agent = state.agents[agent_id]
    if not agent["platform_settings"].get("overrides", {}).get(
            "enable_conversation_initiation_client_data_from_webhook"):
        raise AssertionError("the agent does not fetch initiation data")
    hook = (agent["platform_settings"].get("workspace_overrides") or {}).get(
        "conversation_initiation_client_data_webhook") or state.settings["conversation_initiation_client_data_webhook"]
    return hook["url"], resolve_headers(state, hook["request_headers"])


def post_call_target(state: FakeElevenLabs, agent_id: str) -> tuple[str, str, list[str]]:
    """URL, HMAC secret and events of the post-call webhook that serves this agent."""
    attachment = (state.agents[agent_id]["platform_settings"].get("workspace_overrides") or {}).get(
        "webhooks") or state.settings["webhooks"]
    hook = state.webhooks[attachment["post_call_webhook_id"]]
    return hook["webhook_url"], hook["secret"], attachment["events"]
