"""Use cases behind `agentic-memory elevenlabs ...`: connect, check, disconnect, call, backfill.

Each takes an `ElevenLabsAdmin` (the SDK adapter, or the same adapter answering offline for --dry-run)
and decides the order of API calls; the JSON shapes come from elevenlabs/wiring.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from agentic_memory.elevenlabs import builders, payloads, wiring
from agentic_memory.elevenlabs.wiring import Problem
from agentic_memory.errors import ElevenLabsApiError, InvalidInput
from agentic_memory.ports import Clock, ElevenLabsAdmin, JobQueue, MemoryStore


@dataclass(frozen=True, slots=True)
class Change:
    resource: str
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class Target:
    """Which agent to wire to which server, and how."""

    agent_id: str
    public_url: str
    prompt_override: bool = False  # allow the system-prompt override (only with a prompt template)
    workspace: bool = False  # workspace-wide webhooks instead of the agent's own overrides


@dataclass
class ConnectResult:
    changes: list[Change] = field(default_factory=list)
    hmac_secret: str | None = None  # shown by ElevenLabs only when the webhook is created
    tool_id: str = ""
    webhook_id: str = ""
    secret_id: str = ""


def validate_public_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith("https://"):
        raise InvalidInput("--public-url must be an https:// URL that ElevenLabs can reach")
    if "?" in url or "#" in url or len(url.split("/", 3)[2]) == 0:
        raise InvalidInput("--public-url must be a plain base URL such as https://memory.example.com")
    return url


def connect(admin: ElevenLabsAdmin, target: Target, *, workspace_key: str, rotate_secret: bool = False,
            keep_hmac_secret: Callable[[str], None] = lambda _secret: None) -> ConnectResult:
    """Create or update the secret, the search tool, the post-call webhook and the agent's settings.
    Reads first and sends only what differs, so a second run sends nothing.

    `keep_hmac_secret` gets a new webhook's secret as soon as it exists: ElevenLabs never shows it again,
    and a later step failing must not lose it (a re-run would find the webhook and get no secret)."""
    result = ConnectResult()
    agent = admin.get_agent(target.agent_id)
    result.secret_id = _ensure_secret(admin, workspace_key, result)
    result.tool_id = _ensure_tool(admin, agent, target, result)
    old_webhook = _ensure_webhook(admin, target, result, rotate=rotate_secret)
    if result.hmac_secret:
        keep_hmac_secret(result.hmac_secret)
    body = wiring.patch(wiring.desired_agent(
        agent, tool_id=result.tool_id, public_url=target.public_url, secret_id=result.secret_id,
        webhook_id=result.webhook_id, prompt=target.prompt_override, workspace=target.workspace), agent)
    if body:
        admin.update_agent(target.agent_id, body)
        result.changes += [Change(f"agent {target.agent_id}", "updated", what) for what in _describe(body)]
    if target.workspace:
        settings = admin.get_settings()
        body = wiring.patch(wiring.desired_workspace(public_url=target.public_url, secret_id=result.secret_id,
                                                     webhook_id=result.webhook_id), settings)
        if body:
            admin.update_settings(body)
            result.changes += [Change("workspace settings", "updated", what) for what in _describe(body)]
    if old_webhook:
        _delete_unused_webhooks(admin, {old_webhook}, result.changes, why="replaced by the rotated webhook")
    _drop_stale_secrets(admin, keep=result.secret_id, changes=result.changes)
    return result


def _ensure_secret(admin: ElevenLabsAdmin, workspace_key: str, result: ConnectResult) -> str:
    name = wiring.secret_name(workspace_key)
    for secret in admin.list_secrets():
        if secret.get("name") == name:
            return str(secret["secret_id"])
    secret_id = admin.create_secret(name, workspace_key)
    result.changes.append(Change(f"workspace secret {name}", "created", f"holds {wiring.KEY_HEADER}"))
    return secret_id


def _ensure_tool(admin: ElevenLabsAdmin, agent: dict[str, Any], target: Target, result: ConnectResult) -> str:
    desired = wiring.search_tool(target.public_url, result.secret_id)
    url = desired["api_schema"]["url"]
    attached = set(wiring.agent_tool_ids(agent))
    tools = admin.list_tools()
    # Prefer the agent's own search tool; else reuse a workspace tool already calling this server.
    tool = next((t for t in tools if t.get("id") in attached and wiring.is_search_tool(t, target.public_url)), None)
    tool = tool or next((t for t in tools if (t.get("tool_config") or {}).get("name") == wiring.TOOL_NAME
                         and ((t.get("tool_config") or {}).get("api_schema") or {}).get("url") == url), None)
    if tool is None:
        tool_id = admin.create_tool(desired)
        result.changes.append(Change(f"tool {wiring.TOOL_NAME}", "created", f"POST {url}"))
        return tool_id
    tool_id = str(tool["id"])
    if not wiring.contains(tool.get("tool_config"), desired):
        admin.update_tool(tool_id, desired)
        result.changes.append(Change(f"tool {tool_id}", "updated", f"POST {url}, user_id <- {{{{caller_id}}}}"))
    return tool_id


def _ensure_webhook(admin: ElevenLabsAdmin, target: Target, result: ConnectResult, *, rotate: bool) -> str | None:
    """Returns the id of a webhook to delete once the new one is attached (rotation), else None."""
    url = wiring.endpoint(target.public_url, "/post-call")
    hook = next((w for w in admin.list_webhooks() if w.get("webhook_url") == url), None)
    old = None
    if hook is not None and rotate:
        old, hook = str(hook["webhook_id"]), None
    if hook is None:
        result.webhook_id, result.hmac_secret = admin.create_webhook(wiring.WEBHOOK_NAME, url)
        result.changes.append(Change(f"webhook {wiring.WEBHOOK_NAME}", "created", f"POST {url} (HMAC)"))
        stale = True  # retries can only be switched on by an update
    else:
        result.webhook_id = str(hook["webhook_id"])
        stale = hook.get("retry_enabled") is not True or bool(hook.get("is_disabled") or hook.get("is_auto_disabled"))
    if stale:
        name = str(hook.get("name") or wiring.WEBHOOK_NAME) if hook else wiring.WEBHOOK_NAME
        admin.update_webhook(result.webhook_id, name=name, is_disabled=False, retry_enabled=True)
        result.changes.append(Change(f"webhook {result.webhook_id}", "updated", "enabled, retries on"))
    return old


def _drop_stale_secrets(admin: ElevenLabsAdmin, *, keep: str, changes: list[Change]) -> None:
    """Our secrets for an older workspace key, once nothing uses them any more."""
    for secret in admin.list_secrets():
        name = str(secret.get("name", ""))
        if not name.startswith(wiring.STORED_KEY_PREFIX) or secret.get("secret_id") == keep:
            continue
        used = secret.get("used_by") or {}
        if any(used.get(kind) for kind in ("tools", "agents", "phone_numbers", "mcp_servers", "others")):
            continue
        admin.delete_secret(str(secret["secret_id"]))
        changes.append(Change(f"workspace secret {name}", "deleted", "held an older key; no longer used"))


def _describe(body: dict[str, Any]) -> list[str]:
    out = []
    prompt = (((body.get("conversation_config") or {}).get("agent") or {}).get("prompt") or {})
    if "tool_ids" in prompt:
        out.append("tools: " + ", ".join(prompt["tool_ids"]))
    platform = body.get("platform_settings") or {}
    overrides = platform.get("overrides") or {}
    if "enable_conversation_initiation_client_data_from_webhook" in overrides:
        out.append("fetch initiation data from the webhook: "
                   + str(overrides["enable_conversation_initiation_client_data_from_webhook"]).lower())
    allowed = ((overrides.get("conversation_config_override") or {}).get("agent") or {})
    if allowed:
        out.append("overrides allowed: " + ", ".join(sorted(allowed)))
    for source in (platform.get("workspace_overrides") or {}, body):
        if "conversation_initiation_client_data_webhook" in source:
            init = source["conversation_initiation_client_data_webhook"]
            out.append("initiation webhook: " + (init["url"] if init else "removed"))
        if "webhooks" in source:
            hooks = source["webhooks"] or {}
            out.append("post-call webhook: " + str(hooks.get("post_call_webhook_id") or "removed")
                       + (" (" + ", ".join(hooks["events"]) + ")" if hooks.get("events") else ""))
    return out


def check(admin: ElevenLabsAdmin, target: Target) -> list[Problem]:
    agent = admin.get_agent(target.agent_id)
    tools = {str(t.get("id")): t for t in admin.list_tools()}
    return wiring.check_agent(agent, tools, admin.get_settings(), admin.list_webhooks(),
                              public_url=target.public_url, prompt=target.prompt_override)


def disconnect(admin: ElevenLabsAdmin, target: Target) -> list[Change]:
    """Detach and delete what `connect` added; anything still used elsewhere is kept."""
    changes: list[Change] = []
    agent = admin.get_agent(target.agent_id)
    tools = {str(t.get("id")): t for t in admin.list_tools()}
    attached = wiring.agent_tool_ids(agent)
    retrieve = wiring.endpoint(target.public_url, "/retrieve")
    # Only tools calling this server: a search tool of another deployment is not ours to remove.
    ours = [i for i in attached if ((tools.get(i) or {}).get("tool_config") or {}).get("api_schema", {}).get("url")
            == retrieve]
    hook_url = wiring.endpoint(target.public_url, "/post-call")
    webhooks = {str(w.get("webhook_id")): w for w in admin.list_webhooks()}
    our_hooks = {i for i, w in webhooks.items() if w.get("webhook_url") == hook_url}
    body: dict[str, Any] = {}
    if ours:
        body["conversation_config"] = {"agent": {"prompt": {"tool_ids": [i for i in attached if i not in ours]}}}
    platform = agent.get("platform_settings") or {}
    local = platform.get("workspace_overrides") or {}
    settings = admin.get_settings()
    cleared: dict[str, Any] = {}
    init_url = wiring.endpoint(target.public_url, "/client-data")
    if (local.get("conversation_initiation_client_data_webhook") or {}).get("url") == init_url:
        cleared["conversation_initiation_client_data_webhook"] = None
    if (local.get("webhooks") or {}).get("post_call_webhook_id") in our_hooks:
        cleared["webhooks"] = None
    if cleared:
        body["platform_settings"] = {"workspace_overrides": cleared}
        workspace_init = (settings.get("conversation_initiation_client_data_webhook") or {}).get("url")
        if "conversation_initiation_client_data_webhook" in cleared and not workspace_init:
            body["platform_settings"]["overrides"] = {
                "enable_conversation_initiation_client_data_from_webhook": False}
    if body:
        admin.update_agent(target.agent_id, body)
        changes += [Change(f"agent {target.agent_id}", "updated", what) for what in _describe(body)]
    if target.workspace:
        workspace: dict[str, Any] = {}
        if (settings.get("conversation_initiation_client_data_webhook") or {}).get("url") == init_url:
            workspace["conversation_initiation_client_data_webhook"] = None
        if (settings.get("webhooks") or {}).get("post_call_webhook_id") in our_hooks:
            workspace["webhooks"] = {"post_call_webhook_id": None}
        if workspace:
            admin.update_settings(workspace)
            changes += [Change("workspace settings", "updated", what) for what in _describe(workspace)]
    for tool_id in ours:
        if admin.tool_users(tool_id):
            changes.append(Change(f"tool {tool_id}", "kept", "other agents still use it"))
            continue
        admin.delete_tool(tool_id)
        changes.append(Change(f"tool {tool_id}", "deleted", ""))
    _delete_unused_webhooks(admin, our_hooks, changes, why="")
    _drop_stale_secrets(admin, keep="", changes=changes)
    return changes


def _delete_unused_webhooks(admin: ElevenLabsAdmin, ids: set[str], changes: list[Change], *, why: str) -> None:
    """Read after detaching: a webhook other agents (or the workspace) still use is kept."""
    for hook in admin.list_webhooks():
        webhook_id = str(hook.get("webhook_id"))
        if webhook_id not in ids:
            continue
        if hook.get("usage"):
            changes.append(Change(f"webhook {webhook_id}", "kept", "still attached elsewhere"))
            continue
        admin.delete_webhook(webhook_id)
        changes.append(Change(f"webhook {webhook_id}", "deleted", why))


def place_call(admin: ElevenLabsAdmin, *, agent_id: str, to_number: str, client_data: dict[str, Any],
               phone_number_id: str | None = None) -> dict[str, Any]:
    """Start an outbound call with the callee's /client-data answer as its initiation data.

    ElevenLabs sends no initiation webhook for outbound calls, so the dialer passes what the webhook
    would have returned: the same `caller_id` variable then holds the callee's number."""
    numbers = admin.list_phone_numbers(agent_id)
    if phone_number_id is None:
        assigned = [n for n in numbers if (n.get("assigned_agent") or {}).get("agent_id") == agent_id] or numbers
        if len(assigned) != 1:
            raise InvalidInput(f"the agent has {len(assigned)} phone numbers; choose one with --phone-number-id")
        number = assigned[0]
    else:
        number = next((n for n in numbers if n.get("phone_number_id") == phone_number_id),
                      {"phone_number_id": phone_number_id, "provider": "twilio"})
    return admin.outbound_call(provider=str(number.get("provider") or "twilio"), agent_id=agent_id,
                               phone_number_id=str(number["phone_number_id"]), to_number=to_number,
                               client_data=wiring.outbound_client_data(client_data))


@dataclass
class BackfillResult:
    stored: int = 0
    skipped: int = 0
    audio: int = 0
    failed: list[str] = field(default_factory=list)


def backfill(admin: ElevenLabsAdmin, *, agent_id: str, since_unix: int | None, with_audio: bool,
             queue: JobQueue, store: MemoryStore, clock: Clock,
             progress: Callable[[int, str], None] = lambda _n, _id: None) -> BackfillResult:
    """Feed the agent's past conversations through the webhook's durable path (the inbox queue).

    Idempotent and resumable: a conversation already processed is skipped without being fetched, and
    the queue's (conversation, event) key makes a re-run of a half-done backfill store nothing twice."""
    result = BackfillResult()
    cursor: str | None = None
    while True:
        page, cursor = admin.list_conversations(agent_id, after_unix=since_unix, cursor=cursor)
        for summary in page:
            conversation_id = str(summary.get("conversation_id", ""))
            progress(1, conversation_id)
            if not conversation_id or summary.get("status") not in ("done", "failed") \
                    or store.load_call(conversation_id, None).processed:
                result.skipped += 1
                continue
            try:
                _store_one(admin, conversation_id, with_audio=with_audio, queue=queue, clock=clock, result=result)
            except (ElevenLabsApiError, InvalidInput) as exc:
                result.failed.append(f"{conversation_id}: {exc}")
        if not cursor:
            return result


def _store_one(admin: ElevenLabsAdmin, conversation_id: str, *, with_audio: bool, queue: JobQueue, clock: Clock,
               result: BackfillResult) -> None:
    data = admin.get_conversation(conversation_id)
    now = clock.now()
    stamp = _end_time(data, now)
    body = orjson.dumps({"type": payloads.TRANSCRIPTION, "event_timestamp": stamp, "data": data})
    event = payloads.parse_event(body)  # the same checks a webhook gets
    # accept() answers once the body is durable, like a webhook's 200.
    fresh = queue.accept(event_type=event.type, conversation_id=event.conversation_id, body=body,
                         received_at=now).result()
    if fresh:
        result.stored += 1
    else:
        result.skipped += 1
    if with_audio and data.get("has_audio"):
        try:
            mp3 = admin.get_audio(conversation_id)
        except ElevenLabsApiError as exc:
            if exc.status != 404:  # deleted by the retention policy: the transcript is still worth keeping
                raise
            return
        if mp3:
            audio = orjson.dumps(builders.audio(conversation_id=conversation_id, mp3=mp3,
                                                agent_id=str(data.get("agent_id", "")), timestamp=stamp))
            if queue.accept(event_type=payloads.AUDIO, conversation_id=conversation_id, body=audio,
                            received_at=now).result():
                result.audio += 1


def _end_time(data: dict[str, Any], now: datetime) -> int:
    metadata = data.get("metadata") or {}
    start, duration = metadata.get("start_time_unix_secs"), metadata.get("call_duration_secs")
    if isinstance(start, int) and isinstance(duration, int):
        return start + duration
    return int(now.timestamp())
