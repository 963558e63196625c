"""`ElevenLabsAdmin` over the official SDK. The only module that constructs an SDK client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.core.request_options import RequestOptions
from elevenlabs.types import (
    AgentPlatformSettingsRequestModel,
    ConvAiWebhooks,
    ConversationalConfig,
    ConversationInitiationClientDataRequestInput,
    ConversationInitiationClientDataWebhook,
    ToolRequestModel,
    WebhookHmacSettings,
)
from pydantic import BaseModel

from agentic_memory.adapters.elevenlabs_api.offline import offline_transport
from agentic_memory.errors import ElevenLabsApiError

T = TypeVar("T")
MASKED_VALUE = "<ELEVENLABS_WORKSPACE_KEY>"  # shown instead of the workspace key
# Backfill pages through many calls: let the SDK honour 429 Retry-After more often than its default 2.
_PATIENT = RequestOptions(max_retries=6)


@dataclass(frozen=True, slots=True)
class SentRequest:
    method: str
    path: str
    body: Any


def _json(model: Any) -> Any:
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(model, list):
        return [_json(item) for item in model]
    return model


class SdkAdmin:
    """Every write the SDK sends is kept in `sent` (secret values masked) for the change table and --dry-run."""

    def __init__(self, *, api_key: str, base_url: str | None = None, offline: bool = False,
                 timeout_secs: float = 30.0) -> None:
        self.sent: list[SentRequest] = []
        http = httpx.Client(timeout=timeout_secs, event_hooks={"request": [self._record]},
                            transport=offline_transport() if offline else None)
        self._http = http
        self._client = ElevenLabs(api_key=api_key, base_url=base_url, httpx_client=http)
        self._ai = self._client.conversational_ai

    def close(self) -> None:
        self._http.close()

    def _record(self, request: httpx.Request) -> None:
        if request.method == "GET":
            return
        body = json.loads(request.content) if request.content else None
        if request.url.path.startswith("/v1/convai/secrets") and isinstance(body, dict) and "value" in body:
            body = {**body, "value": MASKED_VALUE}
        self.sent.append(SentRequest(request.method, request.url.path, body))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except ApiError as exc:
            detail = exc.body if isinstance(exc.body, (str, dict, list)) else ""
            raise ElevenLabsApiError(f"{what}: HTTP {exc.status_code} {json.dumps(detail)[:300]}",
                                     status=exc.status_code) from exc
        except httpx.HTTPError as exc:
            raise ElevenLabsApiError(f"{what}: {type(exc).__name__}: {exc}") from exc

    # agents
    def get_agent(self, agent_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(f"get agent {agent_id}",
                                            lambda: _json(self._ai.agents.get(agent_id)))
        return result

    def update_agent(self, agent_id: str, body: dict[str, Any]) -> None:
        # Only the parts we change: an explicit null would ask the API to reset the whole section.
        kwargs: dict[str, Any] = {}
        if body.get("conversation_config") is not None:
            kwargs["conversation_config"] = ConversationalConfig.model_validate(body["conversation_config"])
        if body.get("platform_settings") is not None:
            kwargs["platform_settings"] = AgentPlatformSettingsRequestModel.model_validate(body["platform_settings"])
        self._call(f"update agent {agent_id}", lambda: self._ai.agents.update(agent_id, **kwargs))

    # tools
    def list_tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._call("list tools", partial(self._ai.tools.list, page_size=100, cursor=cursor))
            tools += _json(list(page.tools))
            cursor = page.next_cursor
            if not page.has_more or not cursor:
                return tools

    def create_tool(self, tool_config: dict[str, Any]) -> str:
        request = ToolRequestModel.model_validate({"tool_config": tool_config})
        return str(self._call("create tool", lambda: self._ai.tools.create(request=request)).id)

    def update_tool(self, tool_id: str, tool_config: dict[str, Any]) -> None:
        request = ToolRequestModel.model_validate({"tool_config": tool_config})
        self._call(f"update tool {tool_id}", lambda: self._ai.tools.update(tool_id, request=request))

    def delete_tool(self, tool_id: str) -> None:
        self._call(f"delete tool {tool_id}", lambda: self._ai.tools.delete(tool_id))

    def tool_users(self, tool_id: str) -> list[str]:
        page = self._call(f"tool {tool_id} dependents", lambda: self._ai.tools.get_dependent_agents(tool_id))
        return [str(item.get("id") or item.get("agent_id") or "?") for item in _json(list(page.agents))]

    # workspace secrets
    def list_secrets(self) -> list[dict[str, Any]]:
        secrets: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._call("list secrets", partial(self._ai.secrets.list, page_size=100, cursor=cursor))
            secrets += _json(list(page.secrets))
            cursor = page.next_cursor
            if not cursor:
                return secrets

    def create_secret(self, name: str, value: str) -> str:
        created = self._call("create secret", lambda: self._ai.secrets.create(name=name, value=value))
        return str(created.secret_id)

    def delete_secret(self, secret_id: str) -> None:
        self._call(f"delete secret {secret_id}", lambda: self._ai.secrets.delete(secret_id))

    # workspace settings
    def get_settings(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("get settings", lambda: _json(self._ai.settings.get()))
        return result

    def update_settings(self, body: dict[str, Any]) -> None:
        init, hooks = body.get("conversation_initiation_client_data_webhook"), body.get("webhooks")
        kwargs: dict[str, Any] = {}
        if "conversation_initiation_client_data_webhook" in body:
            kwargs["conversation_initiation_client_data_webhook"] = (
                None if init is None else ConversationInitiationClientDataWebhook.model_validate(init))
        if "webhooks" in body:
            kwargs["webhooks"] = None if hooks is None else ConvAiWebhooks.model_validate(hooks)
        self._call("update settings", lambda: self._ai.settings.update(**kwargs))

    # workspace webhooks
    def list_webhooks(self) -> list[dict[str, Any]]:
        page = self._call("list webhooks", lambda: self._client.webhooks.list(include_usages=True))
        result: list[dict[str, Any]] = _json(list(page.webhooks))
        return result

    def create_webhook(self, name: str, url: str) -> tuple[str, str | None]:
        settings = WebhookHmacSettings(name=name, webhook_url=url)
        created = self._call("create webhook", lambda: self._client.webhooks.create(settings=settings))
        return created.webhook_id, created.webhook_secret

    def update_webhook(self, webhook_id: str, *, name: str, is_disabled: bool, retry_enabled: bool) -> None:
        self._call(f"update webhook {webhook_id}", lambda: self._client.webhooks.update(
            webhook_id, name=name, is_disabled=is_disabled, retry_enabled=retry_enabled))

    def delete_webhook(self, webhook_id: str) -> None:
        self._call(f"delete webhook {webhook_id}", lambda: self._client.webhooks.delete(webhook_id))

    # calls
    def list_phone_numbers(self, agent_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "list phone numbers", lambda: _json(list(self._ai.phone_numbers.list(agent_id=agent_id))))
        return result

    def outbound_call(self, *, provider: str, agent_id: str, phone_number_id: str, to_number: str,
                      client_data: dict[str, Any]) -> dict[str, Any]:
        data = ConversationInitiationClientDataRequestInput.model_validate(client_data)
        api = self._ai.sip_trunk if provider == "sip_trunk" else self._ai.twilio
        result: dict[str, Any] = self._call("outbound call", lambda: _json(api.outbound_call(
            agent_id=agent_id, agent_phone_number_id=phone_number_id, to_number=to_number,
            conversation_initiation_client_data=data)))
        return result

    # past conversations
    def list_conversations(self, agent_id: str, *, after_unix: int | None,
                           cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        page = self._call("list conversations", lambda: self._ai.conversations.list(
            agent_id=agent_id, call_start_after_unix=after_unix, cursor=cursor, page_size=100,
            request_options=_PATIENT))
        conversations: list[dict[str, Any]] = _json(list(page.conversations))
        return conversations, page.next_cursor if page.has_more else None

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(f"get conversation {conversation_id}", lambda: _json(
            self._ai.conversations.get(conversation_id, request_options=_PATIENT)))
        return result

    def get_audio(self, conversation_id: str) -> bytes:
        def fetch() -> bytes:
            chunks: Iterator[bytes] = self._ai.conversations.audio.get(conversation_id, request_options=_PATIENT)
            return b"".join(chunks)

        return self._call(f"get audio {conversation_id}", fetch)

