"""`agentic-memory elevenlabs ...` against a fake ElevenLabs API on 127.0.0.1, through the real SDK."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from elevenlabs.types import ConversationInitiationClientDataRequestInput
from typer.testing import CliRunner

from agentic_memory.bootstrap import Deps, build
from agentic_memory.cli import app
from agentic_memory.config import ensure_keys, load_settings
from agentic_memory.elevenlabs import builders, wiring
from agentic_memory.elevenlabs.signature import sign
from agentic_memory.http.app import create_app
from tests.conftest import drain
from tests.elevenlabs_fake import (
    API_KEY,
    FakeElevenLabs,
    create_fake_app,
    init_webhook_call,
    post_call_target,
    serve,
    tool_call,
)

AGENT = "agent_01jxk8q3v9f2m7n4p6r8s0t2w4"
PUBLIC = "https://memory.example.test"
WORKSPACE_KEY = "amk_connect_test_workspace_key_0123456789"


@pytest.fixture
def fake() -> FakeElevenLabs:
    state = FakeElevenLabs()
    state.add_agent(AGENT, tool_ids=["tool_someone_elses"])
    return state


@pytest.fixture(autouse=True)
def api(fake: FakeElevenLabs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    for name in ("ELEVENLABS_HMAC_KEY", "AGENTIC_MEMORY_PROMPT_TEMPLATE", "AGENTIC_MEMORY_BASE_PROMPT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("ELEVENLABS_WORKSPACE_KEY", WORKSPACE_KEY)
    monkeypatch.setenv("AGENTIC_MEMORY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ELEVENLABS_API_KEY", API_KEY)
    with serve(create_fake_app(fake)) as url:
        monkeypatch.setenv("ELEVENLABS_BASE_URL", url)
        yield url


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["elevenlabs", *args])


def connect(*extra: str) -> Any:
    result = run("connect", "--agent-id", AGENT, "--public-url", PUBLIC, *extra)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def keys_file(tmp_path: Path) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((tmp_path / "data" / "keys.json").read_text())
    return loaded


def test_connect_sends_exactly_the_documented_requests(fake: FakeElevenLabs, tmp_path: Path) -> None:
    result = connect()
    writes = [(r.method, r.path) for r in fake.writes()]
    secret_id, = fake.secrets
    tool_id, = fake.tools
    webhook_id, = fake.webhooks
    assert writes == [("POST", "/v1/convai/secrets"), ("POST", "/v1/convai/tools"),
                      ("POST", "/v1/workspace/webhooks"), ("PATCH", f"/v1/workspace/webhooks/{webhook_id}"),
                      ("PATCH", f"/v1/convai/agents/{AGENT}")]
    secret, tool, hook, retries, agent = (r.body for r in fake.writes())
    assert secret == {"type": "new", "name": wiring.secret_name(WORKSPACE_KEY), "value": WORKSPACE_KEY}
    assert tool == {"tool_config": wiring.search_tool(PUBLIC, secret_id)}
    schema = tool["tool_config"]["api_schema"]
    assert (schema["method"], schema["url"]) == ("POST", f"{PUBLIC}/retrieve")
    assert schema["request_headers"] == {"X-Workspace-Key": {"secret_id": secret_id}}
    # The model can never choose whose memories it reads: user_id comes from our own caller_id variable.
    assert schema["request_body_schema"]["properties"]["user_id"] == {"type": "string", "dynamic_variable": "caller_id"}
    assert "description" in schema["request_body_schema"]["properties"]["query"]
    assert hook == {"settings": {"auth_type": "hmac", "name": wiring.WEBHOOK_NAME,
                                 "webhook_url": f"{PUBLIC}/post-call"}}
    assert retries == {"is_disabled": False, "name": wiring.WEBHOOK_NAME, "retry_enabled": True}
    assert agent == {
        "conversation_config": {"agent": {"prompt": {"tool_ids": ["tool_someone_elses", tool_id]}}},
        "platform_settings": {
            "overrides": {"enable_conversation_initiation_client_data_from_webhook": True,
                          "conversation_config_override": {"agent": {"first_message": True, "language": True}}},
            "workspace_overrides": {
                "conversation_initiation_client_data_webhook": {
                    "url": f"{PUBLIC}/client-data", "request_headers": {"X-Workspace-Key": {"secret_id": secret_id}}},
                "webhooks": {"post_call_webhook_id": webhook_id,
                             "events": ["transcript", "audio", "call_initiation_failure"]}}}}
    assert fake.settings == {}  # workspace-wide settings untouched without --workspace
    # The HMAC secret, shown once by ElevenLabs, went to keys.json (beside the old one), not to the screen.
    new_secret = fake.webhooks[webhook_id]["secret"]
    assert keys_file(tmp_path)["ELEVENLABS_HMAC_KEY"].split(",")[0] == new_secret
    for text in (result.output, result.stderr):
        for secret in (new_secret, WORKSPACE_KEY, API_KEY):
            assert secret not in text
    assert "created" in result.output


def test_second_connect_changes_nothing(fake: FakeElevenLabs, tmp_path: Path) -> None:
    connect()
    before, keys = len(fake.writes()), keys_file(tmp_path)
    result = connect()
    assert len(fake.writes()) == before
    assert "nothing to change" in result.output
    assert keys_file(tmp_path) == keys
    assert run("check", "--agent-id", AGENT, "--public-url", PUBLIC).exit_code == 0


def test_dry_run_needs_no_key_or_network_and_shows_what_connect_sends(
        fake: FakeElevenLabs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY")
    monkeypatch.setenv("ELEVENLABS_BASE_URL", "http://127.0.0.1:9")  # nothing listens; it must not be tried
    dry = run("connect", "--agent-id", AGENT, "--public-url", PUBLIC, "--dry-run")
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert fake.requests == []
    plan = json.loads(dry.stdout)["requests"]
    assert all(WORKSPACE_KEY not in json.dumps(step) for step in plan)
    fresh = FakeElevenLabs()
    fresh.add_agent(AGENT)
    with serve(create_fake_app(fresh)) as url:
        monkeypatch.setenv("ELEVENLABS_API_KEY", API_KEY)
        monkeypatch.setenv("ELEVENLABS_BASE_URL", url)
        connect()
    sent = json.dumps([{"method": r.method, "path": r.path, "body": r.body} for r in fresh.writes()], sort_keys=True)
    for placeholder, real in (("<secret_id>", next(iter(fresh.secrets))), ("<tool_id>", next(iter(fresh.tools))),
                              ("<webhook_id>", next(iter(fresh.webhooks))),
                              ("<ELEVENLABS_WORKSPACE_KEY>", WORKSPACE_KEY)):
        sent = sent.replace(real, placeholder)
    assert json.loads(sent) == json.loads(json.dumps(plan, sort_keys=True))


def test_hmac_secret_from_the_environment_is_printed_to_set_not_written(
        fake: FakeElevenLabs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    old = "wsec_old_secret_from_the_environment_0123"
    monkeypatch.setenv("ELEVENLABS_HMAC_KEY", old)
    result = connect()
    new_secret = next(iter(fake.webhooks.values()))["secret"]
    assert f"ELEVENLABS_HMAC_KEY={new_secret},<current value>" in result.output
    assert old not in result.output
    assert "ELEVENLABS_HMAC_KEY" not in keys_file(tmp_path) if (tmp_path / "data/keys.json").exists() else True


def test_the_hmac_secret_is_kept_even_when_a_later_step_fails(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.refuse.add(("PATCH", f"/v1/convai/agents/{AGENT}"))
    result = run("connect", "--agent-id", AGENT, "--public-url", PUBLIC)
    assert result.exit_code == 1
    assert "422" in result.stderr
    webhook, = fake.webhooks.values()
    assert keys_file(tmp_path)["ELEVENLABS_HMAC_KEY"].split(",")[0] == webhook["secret"]
    fake.refuse.clear()
    connect()  # the re-run finishes the job with the same webhook and secret
    assert list(fake.webhooks.values()) == [webhook]
    assert keys_file(tmp_path)["ELEVENLABS_HMAC_KEY"].split(",")[0] == webhook["secret"]
    assert run("check", "--agent-id", AGENT, "--public-url", PUBLIC).exit_code == 0


def test_rotation_replaces_the_webhook_and_keeps_the_old_secret_accepted(
        fake: FakeElevenLabs, tmp_path: Path) -> None:
    connect()
    old_id, = fake.webhooks
    old_secret = fake.webhooks[old_id]["secret"]
    connect("--rotate-secret")
    new_id, = fake.webhooks
    assert new_id != old_id
    assert fake.webhooks[new_id]["retry_enabled"] is True
    assert fake.agents[AGENT]["platform_settings"]["workspace_overrides"]["webhooks"]["post_call_webhook_id"] == new_id
    assert keys_file(tmp_path)["ELEVENLABS_HMAC_KEY"].split(",")[:2] == [fake.webhooks[new_id]["secret"], old_secret]


def test_rotation_keeps_the_old_webhook_while_another_agent_uses_it(fake: FakeElevenLabs) -> None:
    connect()
    old_id, = fake.webhooks
    fake.add_agent("agent_other", platform_settings={"workspace_overrides": {
        "webhooks": {"post_call_webhook_id": old_id, "events": ["transcript"]}}})
    result = connect("--rotate-secret")
    assert old_id in fake.webhooks
    assert len(fake.webhooks) == 2
    assert "still attached elsewhere" in " ".join(result.output.split())


def test_reordered_lists_in_the_api_answer_are_not_a_change(fake: FakeElevenLabs) -> None:
    connect()
    tool, = fake.tools.values()
    tool["tool_config"]["api_schema"]["request_body_schema"]["required"].reverse()
    fake.agents[AGENT]["platform_settings"]["workspace_overrides"]["webhooks"]["events"].reverse()
    before = len(fake.writes())
    connect()
    assert len(fake.writes()) == before


def test_a_new_workspace_key_gets_a_new_secret_and_the_old_one_is_removed(
        fake: FakeElevenLabs, monkeypatch: pytest.MonkeyPatch) -> None:
    connect()
    old_secret, = fake.secrets
    monkeypatch.setenv("ELEVENLABS_WORKSPACE_KEY", "amk_rotated_workspace_key_9876543210," + WORKSPACE_KEY)
    connect()
    new_secret, = fake.secrets
    assert new_secret != old_secret
    assert fake.secrets[new_secret]["value"] == "amk_rotated_workspace_key_9876543210"
    tool, = fake.tools.values()
    assert tool["tool_config"]["api_schema"]["request_headers"]["X-Workspace-Key"] == {"secret_id": new_secret}


def test_workspace_flag_sets_the_workspace_settings_instead(fake: FakeElevenLabs) -> None:
    connect("--workspace")
    secret_id, = fake.secrets
    webhook_id, = fake.webhooks
    assert fake.settings == {
        "conversation_initiation_client_data_webhook": {
            "url": f"{PUBLIC}/client-data", "request_headers": {"X-Workspace-Key": {"secret_id": secret_id}}},
        "webhooks": {"post_call_webhook_id": webhook_id, "events": ["transcript", "audio", "call_initiation_failure"]}}
    assert "workspace_overrides" not in fake.agents[AGENT]["platform_settings"]
    before = len(fake.writes())
    connect("--workspace")
    assert len(fake.writes()) == before
    assert run("check", "--agent-id", AGENT, "--public-url", PUBLIC).exit_code == 0


def test_prompt_override_is_allowed_only_with_a_template(fake: FakeElevenLabs,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    connect()
    allowed = fake.agents[AGENT]["platform_settings"]["overrides"]["conversation_config_override"]["agent"]
    assert allowed["prompt"] == {"prompt": False}  # left as the operator had it
    monkeypatch.setenv("AGENTIC_MEMORY_PROMPT_TEMPLATE", "{base_prompt}\n\n{caller_context}")
    assert run("check", "--agent-id", AGENT, "--public-url", PUBLIC).exit_code == 1
    connect()
    allowed = fake.agents[AGENT]["platform_settings"]["overrides"]["conversation_config_override"]["agent"]
    assert allowed["prompt"] == {"prompt": True}


def test_check_reports_every_broken_setting(fake: FakeElevenLabs) -> None:
    leaky = wiring.search_tool(PUBLIC, "sec_missing")
    leaky["api_schema"]["request_body_schema"]["properties"]["user_id"] = {
        "type": "string", "description": "The caller's phone number"}
    tool_id = fake.add_tool(leaky)
    hook = fake.add_webhook("https://old-host.example.test/post-call", is_auto_disabled=True, retry_enabled=False)
    fake.add_agent(AGENT, tool_ids=[tool_id], platform_settings={
        "overrides": {"enable_conversation_initiation_client_data_from_webhook": True,
                      "conversation_config_override": {"agent": {"first_message": False, "language": True}}},
        "workspace_overrides": {
            "conversation_initiation_client_data_webhook": {"url": "https://old-host.example.test/client-data",
                                                            "request_headers": {}},
            "webhooks": {"post_call_webhook_id": hook, "events": ["transcript"]}}})
    result = run("check", "--agent-id", AGENT, "--public-url", PUBLIC)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    for expected in ("user_id is filled by the LLM", "first message override is not allowed",
                     "old-host.example.test/client-data", "sends no X-Workspace-Key", "'audio' event",
                     "'call_initiation_failure' event", "old-host.example.test/post-call", "auto-disabled",
                     "retries are off"):
        assert expected in text, expected
    assert not [r for r in fake.writes()]  # check only reads
    connect()
    assert run("check", "--agent-id", AGENT, "--public-url", PUBLIC).exit_code == 0
    assert fake.agents[AGENT]["conversation_config"]["agent"]["prompt"]["tool_ids"] == [tool_id]  # fixed in place


def test_check_finds_missing_pieces_and_overrides_off() -> None:
    result = run("check", "--agent-id", AGENT, "--public-url", PUBLIC)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    for expected in ("no search tool", "fetching conversation-initiation data is off", "language override",
                     "initiation webhook", "none attached"):
        assert expected in text, expected


def test_disconnect_removes_what_connect_added(fake: FakeElevenLabs) -> None:
    connect()
    result = run("disconnect", "--agent-id", AGENT, "--public-url", PUBLIC)
    assert result.exit_code == 0, result.output + result.stderr
    assert fake.tools == {}
    assert fake.webhooks == {}
    assert fake.secrets == {}
    agent = fake.agents[AGENT]
    assert agent["conversation_config"]["agent"]["prompt"]["tool_ids"] == ["tool_someone_elses"]
    assert agent["platform_settings"].get("workspace_overrides", {}) == {}
    assert agent["platform_settings"]["overrides"]["enable_conversation_initiation_client_data_from_webhook"] is False
    assert run("disconnect", "--agent-id", AGENT, "--public-url", PUBLIC).output.strip() == "Nothing to remove."


def test_disconnect_workspace_clears_the_workspace_settings(fake: FakeElevenLabs) -> None:
    connect("--workspace")
    result = run("disconnect", "--agent-id", AGENT, "--public-url", PUBLIC, "--workspace")
    assert result.exit_code == 0, result.output + result.stderr
    assert "conversation_initiation_client_data_webhook" not in fake.settings
    assert "post_call_webhook_id" not in fake.settings.get("webhooks", {})
    assert fake.tools == {}
    assert fake.webhooks == {}
    assert fake.secrets == {}


def test_disconnect_keeps_a_tool_another_agent_still_uses(fake: FakeElevenLabs) -> None:
    connect()
    tool_id, = fake.tools
    fake.add_agent("agent_other", tool_ids=[tool_id])
    result = run("disconnect", "--agent-id", AGENT, "--public-url", PUBLIC)
    assert result.exit_code == 0
    assert tool_id in fake.tools
    assert "other agents still use it" in " ".join(result.output.split())


def test_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("connect", "--agent-id", "agent_nope", "--public-url", PUBLIC)
    assert result.exit_code == 1
    assert "404" in result.stderr
    result = run("connect", "--agent-id", AGENT, "--public-url", "http://memory.example.test")
    assert result.exit_code == 2
    assert "https://" in result.stderr
    monkeypatch.delenv("ELEVENLABS_API_KEY")
    result = run("check", "--agent-id", AGENT, "--public-url", PUBLIC)
    assert result.exit_code == 2
    assert "ELEVENLABS_API_KEY" in result.stderr


# Calls end to end: the configuration `connect` wrote, used the way ElevenLabs uses it --------------------
CALLER = "+14155550123"
PHONE_NUMBER = {"provider": "twilio", "phone_number": "+14155550100", "label": "front desk",
                "supports_inbound": True, "supports_outbound": True, "phone_number_id": "phnum_01jxk7zz00000000",
                "assigned_agent": {"agent_id": AGENT, "agent_name": "Front Desk"}}


@pytest.fixture
def memory_server(embedder: Any) -> Iterator[tuple[str, Deps]]:
    """`connect`, then our real server built from the keys it left (so the webhook's new secret verifies)."""
    connect()
    settings, _ = ensure_keys(load_settings())
    deps = build(settings, embedder=embedder, with_worker=False)
    try:
        with serve(create_app(deps)) as url:
            yield url, deps
    finally:
        deps.close()


def _local(url: str, server: str) -> str:
    assert url.startswith(PUBLIC), url
    return server + url[len(PUBLIC):]


def _post_call(fake: FakeElevenLabs, server: str, payload: dict[str, Any]) -> None:
    url, secret, events = post_call_target(fake, AGENT)
    assert "transcript" in events
    raw = json.dumps(payload).encode()
    response = httpx.post(_local(url, server), content=raw, headers={
        "ElevenLabs-Signature": sign(raw, secret), "Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def _search(fake: FakeElevenLabs, server: str, variables: dict[str, str], query: str) -> list[str]:
    tool_id, = fake.tools
    # The LLM tries to read someone else's memories; the tool's schema does not let it.
    url, headers, body = tool_call(fake, tool_id, dynamic_variables=variables,
                                   llm_arguments={"query": query, "user_id": "+12125550199"})
    assert body["user_id"] == variables["caller_id"]
    response = httpx.post(_local(url, server), json=body, headers=headers)
    assert response.status_code == 200, response.text
    memories = response.json()["memories"]
    assert all(m["user_id"] == variables["caller_id"] for m in memories)
    return [m["memory"] for m in memories]


def test_inbound_then_outbound_call_share_one_memory(memory_server: tuple[str, Deps], fake: FakeElevenLabs) -> None:
    server, deps = memory_server
    worker = deps.make_worker()
    fake.phone_numbers.append(PHONE_NUMBER)
    # Inbound: ElevenLabs asks the agent's initiation webhook about the caller, with the secret header.
    url, headers = init_webhook_call(fake, AGENT)
    init = httpx.post(_local(url, server), headers=headers, json={
        "caller_id": CALLER, "agent_id": AGENT, "called_number": PHONE_NUMBER["phone_number"],
        "call_sid": "CA" + "1" * 32})
    assert init.status_code == 200, init.text
    answer = init.json()
    ConversationInitiationClientDataRequestInput.model_validate(answer)
    allowed = fake.agents[AGENT]["platform_settings"]["overrides"]["conversation_config_override"]["agent"]
    assert all(allowed[field] is True for field in answer["conversation_config_override"]["agent"])
    variables = answer["dynamic_variables"]
    assert (variables["caller_id"], variables["returning_caller"]) == (CALLER, "no")
    _post_call(fake, server, builders.transcription(
        conversation_id="conv_inbound_0001", caller=CALLER, start_time=1767225600,
        turns=[("agent", "Hi! How can I help?"),
               ("user", "This is Dana. I prefer morning appointments, and my booking number is BK-4411.")],
        summary="Dana asked about a morning appointment."))
    assert drain(worker) >= 1
    assert any("BK-4411" in m for m in _search(fake, server, variables, "booking number"))

    # Outbound: no initiation webhook; the dialer asks /client-data and passes the answer in the call request.
    result = run("call", "--agent-id", AGENT, "--to", "(415) 555-0123", "--server-url", server)
    assert result.exit_code == 0, result.output + result.stderr
    request, = [r for r in fake.writes() if r.path == "/v1/convai/twilio/outbound-call"]
    assert (request.body["agent_id"], request.body["agent_phone_number_id"], request.body["to_number"]) == (
        AGENT, PHONE_NUMBER["phone_number_id"], CALLER)
    data = request.body["conversation_initiation_client_data"]
    assert "type" not in data
    outbound_vars = data["dynamic_variables"]
    assert (outbound_vars["caller_id"], outbound_vars["returning_caller"], outbound_vars["caller_name"]) == (
        CALLER, "yes", "Dana")
    assert "Dana" in data["conversation_config_override"]["agent"]["first_message"]
    payload = builders.transcription(
        conversation_id="conv_outbound_0001", caller=CALLER, start_time=1767312000,
        turns=[("agent", data["conversation_config_override"]["agent"]["first_message"]),
               ("user", "Yes, and I am allergic to penicillin, please note that.")])
    payload["data"]["metadata"]["phone_call"]["direction"] = "outbound"  # external_number is the callee
    payload["data"]["conversation_initiation_client_data"]["dynamic_variables"].update(outbound_vars)
    _post_call(fake, server, payload)
    assert drain(worker) >= 1
    found = _search(fake, server, outbound_vars, "allergies")
    assert any("penicillin" in m for m in found)
    assert not _search(fake, server, {"caller_id": "+12125550199"}, "booking number")  # nobody else's


def test_backfill_pages_through_past_calls_once(fake: FakeElevenLabs, embedder: Any) -> None:
    fake.page_size_cap = 2  # force several pages
    for i, (status, start) in enumerate([("done", 1767225600), ("done", 1767312000), ("processing", 1767398400),
                                         ("done", 1767484800), ("done", 1735689600)]):
        data = builders.transcription(
            conversation_id=f"conv_past_{i:04d}", caller=f"+1415555{i:04d}", start_time=start,
            turns=[("agent", "Hello!"), ("user", f"My booking number is BK-{i}00{i}.")])["data"]
        data["status"] = status
        fake.conversations[data["conversation_id"]] = data
        if i != 1:
            fake.audio[data["conversation_id"]] = builders.FAKE_MP3
    fake.rate_limit_next = 1  # the SDK honours Retry-After and tries again
    result = run("backfill", "--agent-id", AGENT, "--since", "2026-01-01", "--audio")
    assert result.exit_code == 0, result.output + result.stderr
    text = " ".join(result.output.split())
    assert "Queued 3 call(s) (2 recording(s)); skipped 1" in text  # conv_past_0004 is before --since
    settings, _ = ensure_keys(load_settings())
    deps = build(settings, embedder=embedder, with_worker=False)
    try:
        assert drain(deps.make_worker()) == 5
        assert deps.store.load_call("conv_past_0003", None).processed
        assert not deps.store.load_call("conv_past_0002", None).processed  # still processing at ElevenLabs
        assert deps.store.files("conv_past_0000").get("audio")
    finally:
        deps.close()
    fetched = len([r for r in fake.requests if r.path.startswith("/v1/convai/conversations/")])
    again = run("backfill", "--agent-id", AGENT, "--since", "2026-01-01")
    assert again.exit_code == 0
    assert "Queued 0 call(s)" in " ".join(again.output.split())
    assert len([r for r in fake.requests if r.path.startswith("/v1/convai/conversations/")]) == fetched


DOC = Path(__file__).resolve().parents[2] / "docs" / "elevenlabs.md"


def test_the_docs_cover_every_command_and_show_the_current_dry_run(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = DOC.read_text()
    commands = re.findall(r"^│ (\w+)\s", run("--help").output, flags=re.MULTILINE)
    assert set(commands) == {"connect", "check", "disconnect", "call", "backfill"}
    for command in commands:
        assert f"agentic-memory elevenlabs {command}" in doc, command
    monkeypatch.delenv("ELEVENLABS_WORKSPACE_KEY")
    monkeypatch.delenv("ELEVENLABS_API_KEY")
    dry = run("connect", "--agent-id", AGENT, "--public-url", "https://memory.example.com", "--dry-run")
    shown = doc.split("<!-- dry-run:start -->\n```json\n")[1].split("```\n<!-- dry-run:end -->")[0]
    assert json.loads(shown) == json.loads(dry.stdout)


def test_the_fake_answers_validate_with_the_sdks_response_models(api: str, fake: FakeElevenLabs) -> None:
    from elevenlabs import types as el

    connect()
    fake.phone_numbers.append(PHONE_NUMBER)
    data = builders.transcription(conversation_id="conv_check_0001", caller=CALLER, start_time=1767225600,
                                  turns=[("agent", "Hello!"), ("user", "Hi.")])["data"]
    fake.conversations[data["conversation_id"]] = data
    tool_id, = fake.tools
    headers = {"xi-api-key": API_KEY}
    answers = {
        f"/v1/convai/agents/{AGENT}": el.GetAgentResponseModel,
        "/v1/convai/tools": el.ToolsResponseModel,
        f"/v1/convai/tools/{tool_id}/dependent-agents": el.GetToolDependentAgentsResponseModel,
        "/v1/convai/secrets": el.GetWorkspaceSecretsResponseModel,
        "/v1/workspace/webhooks?include_usages=true": el.WorkspaceWebhookListResponseModel,
        "/v1/convai/settings": el.GetConvAiSettingsResponseModel,
        "/v1/convai/conversations": el.GetConversationsPageResponseModel,
        "/v1/convai/conversations/conv_check_0001": el.GetConversationResponseModel,
    }
    for path, model in answers.items():
        response = httpx.get(api + path, headers=headers)
        assert response.status_code == 200, path
        model.model_validate(response.json())


def test_the_sdk_is_imported_only_when_an_elevenlabs_command_runs() -> None:
    code = ("import sys, agentic_memory.cli, agentic_memory.http.app, agentic_memory.bootstrap; "
            "print('elevenlabs' in sys.modules)")
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert probe.stdout.strip() == "False"
    src = Path(__file__).resolve().parents[2] / "src" / "agentic_memory"
    importers = {path.relative_to(src).as_posix() for path in src.rglob("*.py")
                 if re.search(r"^\s*(from|import) elevenlabs\b", path.read_text(), flags=re.MULTILINE)}
    assert importers == {"adapters/elevenlabs_api/client.py"}


def test_call_needs_a_phone_number_and_a_reachable_server(memory_server: tuple[str, Deps]) -> None:
    server, _ = memory_server
    result = run("call", "--agent-id", AGENT, "--to", "+14155550123", "--server-url", server)
    assert result.exit_code == 2
    assert "--phone-number-id" in result.stderr
    result = run("call", "--agent-id", AGENT, "--to", "not a number", "--server-url", server)
    assert result.exit_code == 2
    result = run("call", "--agent-id", AGENT, "--to", "+14155550123", "--server-url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "client data" in result.stderr
