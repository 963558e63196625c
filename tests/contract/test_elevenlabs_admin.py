"""One suite for the ElevenLabsAdmin port: the shipped in-memory fake and the SDK adapter (against the
fake ElevenLabs API on 127.0.0.1) must behave alike under connect, check and disconnect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agentic_memory.adapters.elevenlabs_api.client import SdkAdmin
from agentic_memory.elevenlabs import wiring
from agentic_memory.ports import ElevenLabsAdmin
from agentic_memory.services import elevenlabs_setup as setup
from agentic_memory.testing import InMemoryElevenLabs
from tests.elevenlabs_fake import API_KEY, FakeElevenLabs, create_fake_app, serve

AGENT = "agent_contract"
KEY = "amk_contract_workspace_key_0123456789"
TARGET = setup.Target(agent_id=AGENT, public_url="https://memory.example.test")


@pytest.fixture(params=["in-memory", "sdk-over-http"])
def world(request: pytest.FixtureRequest) -> Iterator[tuple[ElevenLabsAdmin, Any]]:
    if request.param == "in-memory":
        fake = InMemoryElevenLabs()
        fake.add_agent(AGENT, tool_ids=["tool_other"])
        yield fake, fake
        return
    state = FakeElevenLabs()
    state.add_agent(AGENT, tool_ids=["tool_other"])
    with serve(create_fake_app(state)) as url:
        admin = SdkAdmin(api_key=API_KEY, base_url=url)
        try:
            yield admin, state
        finally:
            admin.close()


def test_connect_then_nothing_to_change_then_disconnect(world: tuple[ElevenLabsAdmin, Any]) -> None:
    admin, state = world
    secrets: list[str] = []
    first = setup.connect(admin, TARGET, workspace_key=KEY, keep_hmac_secret=secrets.append)
    assert first.changes
    assert len(secrets) == 1
    tool, = state.tools.values()
    assert tool["tool_config"]["api_schema"]["request_body_schema"]["properties"]["user_id"] == {
        "type": "string", "dynamic_variable": wiring.CALLER_VARIABLE}
    hook, = state.webhooks.values()
    assert hook["retry_enabled"] is True
    assert state.agents[AGENT]["conversation_config"]["agent"]["prompt"]["tool_ids"] == ["tool_other", first.tool_id]
    assert setup.connect(admin, TARGET, workspace_key=KEY).changes == []
    assert setup.check(admin, TARGET) == []
    removed = setup.disconnect(admin, TARGET)
    assert {c.action for c in removed} == {"updated", "deleted"}
    assert (state.tools, state.webhooks, state.secrets) == ({}, {}, {})
    assert state.agents[AGENT]["conversation_config"]["agent"]["prompt"]["tool_ids"] == ["tool_other"]
    assert {p.where for p in setup.check(admin, TARGET)} >= {"agent", "agent security", "post-call webhook"}


def test_workspace_wide_and_back(world: tuple[ElevenLabsAdmin, Any]) -> None:
    admin, state = world
    target = setup.Target(agent_id=AGENT, public_url=TARGET.public_url, workspace=True)
    setup.connect(admin, target, workspace_key=KEY)
    assert state.settings["conversation_initiation_client_data_webhook"]["url"] == "https://memory.example.test/client-data"
    assert setup.connect(admin, target, workspace_key=KEY).changes == []
    assert setup.check(admin, target) == []
    setup.disconnect(admin, target)
    assert "conversation_initiation_client_data_webhook" not in state.settings
    assert state.webhooks == {}


def test_an_unknown_agent_is_an_api_error(world: tuple[ElevenLabsAdmin, Any]) -> None:
    admin, _ = world
    with pytest.raises(setup.ElevenLabsApiError, match="404"):
        setup.connect(admin, setup.Target(agent_id="agent_missing", public_url=TARGET.public_url), workspace_key=KEY)
