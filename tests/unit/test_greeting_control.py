"""Greeting control: off never replaces the agent's opening; per-language templates greet by name."""

from __future__ import annotations

from datetime import UTC, datetime

from agentic_memory.config import load_settings
from agentic_memory.domain.greeting import GreetingPolicy
from agentic_memory.domain.models import CallerBriefing, CallerProfile
from agentic_memory.elevenlabs.responses import client_data_response

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def briefing(*, calls: int = 2, name: str = "Ann", language: str = "en") -> CallerBriefing:
    profile = CallerProfile(caller_id="+14155550123", first_seen=T0, last_seen=T0, call_count=calls,
                            first_name=name, language=language)
    return CallerBriefing("+14155550123", profile, "", "", "Hello Ann! Welcome back. How can I help you today?")


def agent(b: CallerBriefing, policy: GreetingPolicy) -> dict[str, object]:
    override = client_data_response(b, greeting=policy)["conversation_config_override"]
    assert isinstance(override, dict)
    return dict(override["agent"])


def test_default_sends_the_built_in_greeting():
    assert agent(briefing(), GreetingPolicy())["first_message"].startswith("Hello Ann")


def test_off_never_replaces_the_agents_opening():
    for b in (briefing(), briefing(calls=0), briefing(name="")):
        assert "first_message" not in agent(b, GreetingPolicy.of(False, {"en": "Hi {name}"}))


def test_templates_per_language_greet_returning_named_callers_only():
    policy = GreetingPolicy.of(True, {"EN": "This call is recorded. Welcome back, {name}! {not a field}",
                                      "es": "Esta llamada se graba. ¡Hola {name}!"})
    assert agent(briefing(), policy)["first_message"] == "This call is recorded. Welcome back, Ann! {not a field}"
    assert agent(briefing(language="es"), policy)["first_message"] == "Esta llamada se graba. ¡Hola Ann!"
    assert "first_message" not in agent(briefing(calls=0), policy)  # new caller: the agent's own opening
    assert "first_message" not in agent(briefing(name=""), policy)
    assert agent(briefing(language="de"), policy)["first_message"].startswith("Hello Ann")  # no de template


def test_settings_read_the_switch_and_templates_from_the_environment(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("AGENTIC_MEMORY_FIRST_MESSAGE_TEMPLATE_FR=Bonjour {name}\n"
                        "AGENTIC_MEMORY_FIRST_MESSAGE_TEMPLATE_EN=from file\n")
    settings = load_settings({"AGENTIC_MEMORY_FIRST_MESSAGE": "off",
                              "AGENTIC_MEMORY_FIRST_MESSAGE_TEMPLATE_EN": "Hi {name}"}, env_file=str(env_file))
    assert settings.first_message is False
    assert settings.first_message_templates == {"en": "Hi {name}", "fr": "Bonjour {name}"}
    assert load_settings({}, env_file=None).first_message is True
