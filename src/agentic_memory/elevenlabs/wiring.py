"""What an ElevenLabs agent must look like to use this server, as the JSON the ElevenLabs API takes.

Pure functions over plain dicts: the desired search tool, agent settings and webhook attachment, the
smallest patch that turns the current settings into the desired ones, and the problems `check` reports.
The HTTP calls live in adapters/elevenlabs_api; the order of operations in services/elevenlabs_setup.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOOL_NAME = "search_caller_memory"
WEBHOOK_NAME = "AgenticMemory post-call"
STORED_KEY_PREFIX = "agentic_memory_workspace_key_"  # names of our workspace secrets
KEY_HEADER = "X-Workspace-Key"
# Our own variable, always returned by /client-data and set by an outbound dialer: the tool's user_id is
# bound to it, so the model can never choose whose memories it reads.
CALLER_VARIABLE = "caller_id"
POST_CALL_EVENTS = ("transcript", "audio", "call_initiation_failure")
# Objects the API takes whole (every field required), so a patch sends them entire.
_ATOMIC = frozenset({"conversation_initiation_client_data_webhook"})


def endpoint(public_url: str, path: str) -> str:
    return public_url.rstrip("/") + path


def secret_name(workspace_key: str) -> str:
    """Workspace secrets cannot be read back, so the name carries a short fingerprint of the value: a new
    key gets a new secret (rotation) and the same key finds the secret it already has (idempotence)."""
    return STORED_KEY_PREFIX + hashlib.sha256(workspace_key.encode()).hexdigest()[:12]


def search_tool(public_url: str, secret_id: str) -> dict[str, Any]:
    """`tool_config` of the in-call search tool (SDK `WebhookToolConfigInput`)."""
    return {
        "type": "webhook",
        "name": TOOL_NAME,
        "description": ("Search what we remember about the person on this call: facts they told us and what was "
                        "said in earlier calls. Use it when they refer to a past conversation, ask what we know, "
                        "or when a detail from an earlier call would help."),
        "response_timeout_secs": 5,
        "tool_error_handling_mode": "summarized",
        "api_schema": {
            "url": endpoint(public_url, "/retrieve"),
            "method": "POST",
            "content_type": "application/json",
            "request_headers": {KEY_HEADER: {"secret_id": secret_id}},
            "request_body_schema": {
                "type": "object",
                "required": ["query", "user_id"],
                "properties": {
                    "query": {"type": "string", "description": (
                        "What to look for in the caller's memories, in a few words, e.g. 'booking number' "
                        "or 'what they ordered last time'.")},
                    "user_id": {"type": "string", "dynamic_variable": CALLER_VARIABLE},
                },
            },
        },
    }


def init_webhook(public_url: str, secret_id: str) -> dict[str, Any]:
    """`ConversationInitiationClientDataWebhook`: our /client-data with the key from a workspace secret."""
    return {"url": endpoint(public_url, "/client-data"), "request_headers": {KEY_HEADER: {"secret_id": secret_id}}}


def override_permissions(*, prompt: bool) -> dict[str, Any]:
    """`platform_settings.overrides`: fetch client data for inbound calls and allow the fields we return.
    An override we return that is not allowed makes ElevenLabs refuse the call's overrides."""
    agent: dict[str, Any] = {"first_message": True, "language": True}
    if prompt:
        agent["prompt"] = {"prompt": True}
    return {"enable_conversation_initiation_client_data_from_webhook": True,
            "conversation_config_override": {"agent": agent}}


def post_call_attachment(webhook_id: str) -> dict[str, Any]:
    """`ConvAiWebhooks`: which workspace webhook gets the post-call events, and which events."""
    return {"post_call_webhook_id": webhook_id, "events": list(POST_CALL_EVENTS)}


def agent_tool_ids(agent: Mapping[str, Any]) -> list[str]:
    ids = _get(agent, "conversation_config", "agent", "prompt", "tool_ids")
    return [str(i) for i in ids] if isinstance(ids, list) else []


def desired_agent(agent: Mapping[str, Any], *, tool_id: str, public_url: str, secret_id: str, webhook_id: str,
                  prompt: bool, workspace: bool) -> dict[str, Any]:
    """The agent settings we need, in the shape of the agent PATCH body."""
    tool_ids = agent_tool_ids(agent)
    platform: dict[str, Any] = {"overrides": override_permissions(prompt=prompt)}
    if not workspace:
        platform["workspace_overrides"] = {
            "conversation_initiation_client_data_webhook": init_webhook(public_url, secret_id),
            "webhooks": post_call_attachment(webhook_id)}
    return {"conversation_config": {"agent": {"prompt": {
                "tool_ids": tool_ids if tool_id in tool_ids else [*tool_ids, tool_id]}}},
            "platform_settings": platform}


def desired_workspace(*, public_url: str, secret_id: str, webhook_id: str) -> dict[str, Any]:
    """Workspace-wide settings (`--workspace`): every agent of the workspace gets them."""
    return {"conversation_initiation_client_data_webhook": init_webhook(public_url, secret_id),
            "webhooks": post_call_attachment(webhook_id)}


def patch(desired: Mapping[str, Any], current: Any) -> dict[str, Any]:
    """The smallest body that makes `current` hold `desired` under merge-patch semantics: only the keys
    whose values differ; lists and `_ATOMIC` objects are sent whole; keys only `current` has are kept."""
    current = current if isinstance(current, Mapping) else {}
    out: dict[str, Any] = {}
    for key, want in desired.items():
        have = current.get(key)
        if isinstance(want, Mapping) and key not in _ATOMIC:
            sub = patch(want, have)
            if sub or not isinstance(have, Mapping):
                out[key] = sub
        elif not contains(have, want):
            out[key] = want
    return out


def contains(have: Any, want: Any) -> bool:
    """`have` holds everything in `want` (the API echoes defaults we never sent, so equality is too strict)."""
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(contains(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return False
        if all(isinstance(item, (str, int, float, bool)) for item in [*want, *have]):
            return Counter(have) == Counter(want)  # ids, events, required names: their order means nothing
        return all(map(contains, have, want))
    return bool(have == want)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _tool_config(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    config = tool.get("tool_config")
    return config if isinstance(config, Mapping) else {}


def is_search_tool(tool: Mapping[str, Any], public_url: str | None = None) -> bool:
    """Ours by name, or any webhook tool calling our /retrieve."""
    config = _tool_config(tool)
    url = _get(config, "api_schema", "url")
    if public_url is not None and url == endpoint(public_url, "/retrieve"):
        return True
    return config.get("name") == TOOL_NAME


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    message: str


def check_agent(agent: Mapping[str, Any], tools: Mapping[str, Mapping[str, Any]], settings: Mapping[str, Any],
                webhooks: Sequence[Mapping[str, Any]], *, public_url: str, prompt: bool) -> list[Problem]:
    """Every way the agent's wiring can silently break memory. `tools` maps tool ids to tools."""
    problems: list[Problem] = []
    problems += _check_tools(agent, tools, public_url)
    problems += _check_overrides(agent, prompt)
    overrides = _get(agent, "platform_settings", "workspace_overrides") or {}
    init = _get(overrides, "conversation_initiation_client_data_webhook") or settings.get(
        "conversation_initiation_client_data_webhook")
    problems += _check_init_webhook(init, public_url)
    attachment = _get(overrides, "webhooks")
    if not _get(attachment, "post_call_webhook_id"):
        attachment = settings.get("webhooks")
    problems += _check_post_call(attachment, webhooks, public_url)
    return problems


def _check_tools(agent: Mapping[str, Any], tools: Mapping[str, Mapping[str, Any]], public_url: str) -> list[Problem]:
    problems = []
    found = False
    for tool_id in agent_tool_ids(agent):
        tool = tools.get(tool_id)
        if tool is None or not is_search_tool(tool, public_url):
            continue
        found = True
        where = f"tool {tool_id}"
        schema = _get(_tool_config(tool), "api_schema") or {}
        if schema.get("url") != endpoint(public_url, "/retrieve"):
            problems.append(Problem(where, f"calls {schema.get('url')!r}, not {endpoint(public_url, '/retrieve')}"))
        user_id = _get(schema, "request_body_schema", "properties", "user_id")
        if not isinstance(user_id, Mapping) or not user_id.get("dynamic_variable"):
            problems.append(Problem(where, "user_id is filled by the LLM: the model could read any caller's "
                                           f"memories; bind it to the {CALLER_VARIABLE!r} dynamic variable"))
        elif user_id.get("description") or user_id.get("constant_value") is not None:
            problems.append(Problem(where, "user_id has a description or constant besides its dynamic variable"))
        header = _get(schema, "request_headers", KEY_HEADER)
        if not isinstance(header, Mapping) or not header.get("secret_id"):
            problems.append(Problem(where, f"no {KEY_HEADER} header from a workspace secret"))
    if not found:
        problems.append(Problem("agent", f"no search tool calling {endpoint(public_url, '/retrieve')} is attached"))
    return problems


def _check_overrides(agent: Mapping[str, Any], prompt: bool) -> list[Problem]:
    overrides = _get(agent, "platform_settings", "overrides") or {}
    problems = []
    if not overrides.get("enable_conversation_initiation_client_data_from_webhook"):
        problems.append(Problem("agent security", "fetching conversation-initiation data is off: /client-data "
                                                  "is never called"))
    allowed = _get(overrides, "conversation_config_override", "agent") or {}
    needed = ["first_message", "language"] + (["prompt"] if prompt else [])
    for field in needed:
        value = allowed.get(field)
        ok = bool(_get(value, "prompt")) if field == "prompt" else bool(value)
        if not ok:
            problems.append(Problem("agent security", f"the {field.replace('_', ' ')} override is not allowed: "
                                                      "ElevenLabs refuses the overrides /client-data returns"))
    return problems


def _check_init_webhook(init: Any, public_url: str) -> list[Problem]:
    want = endpoint(public_url, "/client-data")
    if not isinstance(init, Mapping) or not init.get("url"):
        return [Problem("initiation webhook", f"not set (neither on the agent nor the workspace); want {want}")]
    problems = []
    if init.get("url") != want:
        problems.append(Problem("initiation webhook", f"points at {init.get('url')!r}, not {want}"))
    if not _get(init, "request_headers", KEY_HEADER):
        problems.append(Problem("initiation webhook", f"sends no {KEY_HEADER} header"))
    return problems


def _check_post_call(attachment: Any, webhooks: Sequence[Mapping[str, Any]], public_url: str) -> list[Problem]:
    want = endpoint(public_url, "/post-call")
    webhook_id = _get(attachment, "post_call_webhook_id")
    if not webhook_id:
        return [Problem("post-call webhook", "none attached to the agent or the workspace")]
    problems = []
    events = _get(attachment, "events") or []
    for event in POST_CALL_EVENTS:
        if event not in events:
            problems.append(Problem("post-call webhook", f"the {event!r} event is not sent"))
    webhook = next((w for w in webhooks if w.get("webhook_id") == webhook_id), None)
    if webhook is None:
        return [*problems, Problem("post-call webhook", f"{webhook_id} does not exist in the workspace")]
    if webhook.get("webhook_url") != want:
        problems.append(Problem("post-call webhook", f"points at {webhook.get('webhook_url')!r}, not {want}"))
    if webhook.get("is_auto_disabled"):
        problems.append(Problem("post-call webhook", "auto-disabled by ElevenLabs after repeated failures"))
    elif webhook.get("is_disabled"):
        problems.append(Problem("post-call webhook", "disabled"))
    if webhook.get("retry_enabled") is not True:
        problems.append(Problem("post-call webhook", "retries are off: a call that arrives while the server is "
                                                     "down is lost"))
    return problems


def outbound_client_data(response: Mapping[str, Any]) -> dict[str, Any]:
    """/client-data's answer -> `conversation_initiation_client_data` of an outbound-call request."""
    return {key: response[key] for key in ("dynamic_variables", "conversation_config_override", "user_id")
            if response.get(key)}
