"""The ElevenLabs setup use cases on the shipped in-memory ElevenLabs: the edges the CLI suite does not reach
(URL checks, choosing the dialling number, disconnect corner cases, backfill failures and re-runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agentic_memory.elevenlabs import builders, payloads, wiring
from agentic_memory.errors import ElevenLabsApiError, InvalidInput
from agentic_memory.services import elevenlabs_setup as setup
from agentic_memory.testing import FixedClock, InMemoryElevenLabs, InMemoryJobQueue, InMemoryMemoryStore

AGENT = "agent_setup"
URL = "https://memory.example.test"
KEY = "amk_setup_workspace_key_0123456789"
T0 = 1767225600


@pytest.fixture
def api() -> InMemoryElevenLabs:
    fake = InMemoryElevenLabs()
    fake.add_agent(AGENT)
    return fake


@pytest.mark.parametrize("url", ["http://memory.example.test", "https://memory.example.test/?a=1",
                                 "https://memory.example.test/#top", "https://"])
def test_a_public_url_must_be_a_plain_https_base(url: str) -> None:
    with pytest.raises(InvalidInput, match="--public-url"):
        setup.validate_public_url(url)


def test_a_public_url_loses_its_trailing_slash_and_spaces() -> None:
    assert setup.validate_public_url("  https://memory.example.test/ ") == URL


def _number(number_id: str, agent_id: str = AGENT, provider: str = "sip_trunk") -> dict[str, Any]:
    return {"phone_number_id": number_id, "provider": provider, "assigned_agent": {"agent_id": agent_id}}


def test_a_call_needs_exactly_one_number_unless_one_is_chosen(api: InMemoryElevenLabs) -> None:
    with pytest.raises(InvalidInput, match="has 0 phone numbers"):
        setup.place_call(api, agent_id=AGENT, to_number="+14155550100", client_data={})
    api.phone_numbers += [_number("phnum_a"), _number("phnum_b", provider="twilio")]
    with pytest.raises(InvalidInput, match="has 2 phone numbers"):
        setup.place_call(api, agent_id=AGENT, to_number="+14155550100", client_data={})
    assert api.calls == []

    setup.place_call(api, agent_id=AGENT, to_number="+14155550100", phone_number_id="phnum_a",
                     client_data={"dynamic_variables": {"caller_id": "+14155550100"}, "type": "x"})
    call = api.calls[-1]
    assert (call["provider"], call["agent_phone_number_id"]) == ("sip_trunk", "phnum_a")  # the number's provider
    assert call["conversation_initiation_client_data"] == {"dynamic_variables": {"caller_id": "+14155550100"}}


def test_a_chosen_number_the_api_does_not_list_is_dialled_as_twilio(api: InMemoryElevenLabs) -> None:
    setup.place_call(api, agent_id=AGENT, to_number="+14155550100", phone_number_id="phnum_elsewhere",
                     client_data={})
    assert (api.calls[-1]["provider"], api.calls[-1]["agent_phone_number_id"]) == ("twilio", "phnum_elsewhere")


def test_disconnect_proxy_removes_our_custom_llm_but_keeps_an_llm_the_operator_chose(
        api: InMemoryElevenLabs) -> None:
    target = setup.Target(agent_id=AGENT, public_url=URL, proxy=True, proxy_model="gpt-4o-mini")
    setup.connect(api, target, workspace_key=KEY)
    prompt = api.agents[AGENT]["conversation_config"]["agent"]["prompt"]
    assert (prompt["llm"], prompt["custom_llm"]["url"]) == (wiring.CUSTOM_LLM, URL + wiring.PROXY_PATH)
    prompt["llm"] = "gemini-2.0-flash"  # switched away by hand, the Custom LLM block left behind

    changes = setup.disconnect(api, target)
    prompt = api.agents[AGENT]["conversation_config"]["agent"]["prompt"]
    assert prompt.get("custom_llm") is None
    assert prompt["llm"] == "gemini-2.0-flash"
    assert setup.Change(f"agent {AGENT}", "updated", "Custom LLM: removed") in changes


def test_disconnect_keeps_fetching_initiation_data_while_the_workspace_has_a_webhook(
        api: InMemoryElevenLabs) -> None:
    target = setup.Target(agent_id=AGENT, public_url=URL)
    setup.connect(api, target, workspace_key=KEY)
    overrides = api.agents[AGENT]["platform_settings"]["overrides"]
    assert overrides["enable_conversation_initiation_client_data_from_webhook"] is True
    other = {"url": "https://other.example.test/client-data", "request_headers": {}}
    api.settings["conversation_initiation_client_data_webhook"] = other

    setup.disconnect(api, target)
    platform = api.agents[AGENT]["platform_settings"]
    assert platform["workspace_overrides"].get("conversation_initiation_client_data_webhook") is None
    # The workspace's own webhook still serves this agent: fetching from it stays on.
    assert platform["overrides"]["enable_conversation_initiation_client_data_from_webhook"] is True
    assert api.settings["conversation_initiation_client_data_webhook"] == other


def test_disconnect_workspace_leaves_workspace_settings_it_did_not_set(api: InMemoryElevenLabs) -> None:
    target = setup.Target(agent_id=AGENT, public_url=URL)
    setup.connect(api, target, workspace_key=KEY)  # the agent's own overrides, not the workspace's
    foreign = {"conversation_initiation_client_data_webhook": {"url": "https://other.example.test/client-data"},
               "webhooks": {"post_call_webhook_id": "wh_other"}}
    api.settings.update(foreign)

    changes = setup.disconnect(api, setup.Target(agent_id=AGENT, public_url=URL, workspace=True))
    assert ("update_settings", "") not in api.writes
    assert api.settings == foreign
    assert not [c for c in changes if c.resource == "workspace settings"]
    assert api.webhooks == {}  # ours was only the agent's: detached, then deleted


def _conversation(api: InMemoryElevenLabs, cid: str, *, start: int | None = T0, audio: bytes | None = None) -> None:
    data = builders.transcription(conversation_id=cid, caller="+14155550123", start_time=start or T0,
                                  turns=[("agent", "Hello!"), ("user", "My booking number is BK-1234.")],
                                  agent_id=AGENT)["data"]
    if start is None:
        data["metadata"].pop("start_time_unix_secs")
    api.conversations[cid] = data
    if audio is not None:
        api.audio[cid] = audio


class AudioOutage(InMemoryElevenLabs):
    """The recordings endpoint failing with a server error (not the 404 of a deleted recording)."""

    def get_audio(self, conversation_id: str) -> bytes:
        raise ElevenLabsApiError(f"get audio {conversation_id}: HTTP 503 unavailable", status=503)


def _backfill(api: InMemoryElevenLabs, queue: InMemoryJobQueue, clock: FixedClock) -> setup.BackfillResult:
    return setup.backfill(api, agent_id=AGENT, since_unix=None, with_audio=True, queue=queue,
                          store=InMemoryMemoryStore(), clock=clock)


def test_backfill_reports_a_failed_recording_and_keeps_the_transcript() -> None:
    api = AudioOutage()
    api.add_agent(AGENT)
    _conversation(api, "conv_one", audio=builders.FAKE_MP3)
    queue, clock = InMemoryJobQueue(), FixedClock(datetime.fromtimestamp(T0, UTC))
    result = _backfill(api, queue, clock)
    assert result.failed == ["conv_one: get audio conv_one: HTTP 503 unavailable"]
    assert (result.stored, result.audio) == (1, 0)
    job = queue.claim(worker="w", now=clock.now(), lease_secs=60)
    assert job is not None
    assert job.event_type == payloads.TRANSCRIPTION


def test_backfill_rerun_before_the_worker_ran_queues_nothing_twice(api: InMemoryElevenLabs) -> None:
    _conversation(api, "conv_one", audio=builders.FAKE_MP3)
    _conversation(api, "conv_empty_audio", audio=b"")
    queue, clock = InMemoryJobQueue(), FixedClock(datetime.fromtimestamp(T0, UTC))
    first = _backfill(api, queue, clock)
    assert (first.stored, first.audio, first.skipped, first.failed) == (2, 1, 0, [])
    again = _backfill(api, queue, clock)  # nothing processed yet: the queue's key answers "already taken"
    assert (again.stored, again.audio, again.skipped) == (0, 0, 2)
    assert queue.stats().pending == 3  # two transcripts and one recording (the empty one is not queued)


def test_backfill_stamps_a_call_without_start_time_with_the_time_of_the_import(api: InMemoryElevenLabs) -> None:
    _conversation(api, "conv_undated", start=None)
    queue, clock = InMemoryJobQueue(), FixedClock(datetime.fromtimestamp(T0 + 999, UTC))
    setup.backfill(api, agent_id=AGENT, since_unix=None, with_audio=False, queue=queue,
                   store=InMemoryMemoryStore(), clock=clock)
    job = queue.claim(worker="w", now=clock.now(), lease_secs=60)
    assert job is not None
    assert payloads.parse_event(job.body).payload["event_timestamp"] == T0 + 999
