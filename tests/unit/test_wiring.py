"""elevenlabs/wiring.py: the desired shapes, the smallest patch, and what `check` reports."""

from __future__ import annotations

import copy
from typing import Any

from elevenlabs.types import (
    AgentPlatformSettingsRequestModel,
    ConvAiWebhooks,
    ConversationalConfig,
    ConversationInitiationClientDataWebhook,
    ToolRequestModel,
    WebhookToolConfigInput,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentic_memory.elevenlabs import wiring
from agentic_memory.testing import merge_patch as merge

URL = "https://memory.example.com"


def test_desired_shapes_validate_with_the_sdk_request_models() -> None:
    tool = wiring.search_tool(URL, "sec_1")
    ToolRequestModel.model_validate({"tool_config": tool})
    WebhookToolConfigInput.model_validate(tool)
    agent = wiring.desired_agent({}, tool_id="tool_1", public_url=URL, secret_id="sec_1", webhook_id="wh_1",
                                 prompt=True, workspace=False)
    ConversationalConfig.model_validate(agent["conversation_config"])
    AgentPlatformSettingsRequestModel.model_validate(agent["platform_settings"])
    workspace = wiring.desired_workspace(public_url=URL, secret_id="sec_1", webhook_id="wh_1")
    ConversationInitiationClientDataWebhook.model_validate(workspace["conversation_initiation_client_data_webhook"])
    ConvAiWebhooks.model_validate(workspace["webhooks"])


def test_user_id_is_bound_to_our_variable_and_nothing_else() -> None:
    user_id = wiring.search_tool(URL, "sec_1")["api_schema"]["request_body_schema"]["properties"]["user_id"]
    assert user_id == {"type": "string", "dynamic_variable": "caller_id"}


def test_prompt_override_only_when_asked() -> None:
    assert "prompt" not in wiring.override_permissions(prompt=False)["conversation_config_override"]["agent"]
    assert wiring.override_permissions(prompt=True)["conversation_config_override"]["agent"]["prompt"] == {
        "prompt": True}


def test_the_agents_other_tools_are_kept_and_ours_is_not_added_twice() -> None:
    agent = {"conversation_config": {"agent": {"prompt": {"tool_ids": ["a", "b"]}}}}
    body = wiring.desired_agent(agent, tool_id="t", public_url=URL, secret_id="s", webhook_id="w", prompt=False,
                                workspace=True)
    assert body["conversation_config"]["agent"]["prompt"]["tool_ids"] == ["a", "b", "t"]
    assert "workspace_overrides" not in body["platform_settings"]
    agent["conversation_config"]["agent"]["prompt"]["tool_ids"] = ["a", "t"]
    body = wiring.desired_agent(agent, tool_id="t", public_url=URL, secret_id="s", webhook_id="w", prompt=False,
                                workspace=True)
    assert body["conversation_config"]["agent"]["prompt"]["tool_ids"] == ["a", "t"]


def test_patch_sends_only_differences_and_atomic_objects_whole() -> None:
    current = {"platform_settings": {"overrides": {"enable_conversation_initiation_client_data_from_webhook": True},
                                     "workspace_overrides": {"conversation_initiation_client_data_webhook": {
                                         "url": "https://old/client-data", "request_headers": {"X": "y"}}}},
               "name": "kept"}
    desired = {"platform_settings": {"overrides": {"enable_conversation_initiation_client_data_from_webhook": True},
                                     "workspace_overrides": {"conversation_initiation_client_data_webhook":
                                                             wiring.init_webhook(URL, "s")}}}
    assert wiring.patch(desired, current) == {"platform_settings": {"workspace_overrides": {
        "conversation_initiation_client_data_webhook": wiring.init_webhook(URL, "s")}}}
    assert wiring.patch(desired, desired) == {}


def test_contains_ignores_echoed_defaults_but_not_changed_values() -> None:
    want = wiring.search_tool(URL, "s")
    have = copy.deepcopy(want)
    have["execution_mode"] = "immediate"
    have["api_schema"]["request_body_schema"]["properties"]["query"]["enum"] = None
    assert wiring.contains(have, want)
    have["api_schema"]["request_body_schema"]["properties"]["user_id"] = {"type": "string", "description": "x"}
    assert not wiring.contains(have, want)


def test_secret_names_tell_keys_apart_without_showing_them() -> None:
    a, b = wiring.secret_name("amk_first_key_0123456789abcdef"), wiring.secret_name("amk_other_key_0123456789abcdef")
    assert a != b
    assert a == wiring.secret_name("amk_first_key_0123456789abcdef")
    assert "first" not in a


json_leaf = st.one_of(st.booleans(), st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=3))
json_tree: st.SearchStrategy[Any] = st.recursive(
    json_leaf, lambda inner: st.dictionaries(st.sampled_from("abcde"), inner, max_size=4), max_leaves=8)
objects = st.dictionaries(st.sampled_from("abcde"), json_tree, max_size=4)


# The machine is shared by several test runs: generation speed is not what this test is about.
@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(desired=objects, current=objects)
def test_applying_the_patch_always_reaches_the_desired_state(desired: dict[str, Any], current: dict[str, Any]) -> None:
    body = wiring.patch(desired, current)
    merged = copy.deepcopy(current)
    merge(merged, body)
    assert wiring.contains(merged, desired)
    assert wiring.patch(desired, merged) == {}  # and a second run sends nothing


def test_check_accepts_what_connect_builds() -> None:
    tool = {"id": "t", "tool_config": wiring.search_tool(URL, "s")}
    agent = wiring.desired_agent({}, tool_id="t", public_url=URL, secret_id="s", webhook_id="w", prompt=False,
                                 workspace=False)
    hook = {"webhook_id": "w", "webhook_url": URL + "/post-call", "is_disabled": False, "is_auto_disabled": False,
            "retry_enabled": True}
    assert wiring.check_agent(agent, {"t": tool}, {}, [hook], public_url=URL, prompt=False) == []
    problems = wiring.check_agent(agent, {"t": tool}, {}, [hook], public_url=URL, prompt=True)
    assert [p.message for p in problems] == [
        "the prompt override is not allowed: ElevenLabs refuses the overrides /client-data returns"]
