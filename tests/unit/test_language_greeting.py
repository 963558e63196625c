"""Language normalisation and detection, and the first message built from them."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic_memory.domain.greeting import first_message
from agentic_memory.domain.language import SUPPORTED, detect_language, normalise_language


@pytest.mark.parametrize(("code", "expected"), [
    ("en", "en"), ("en-US", "en"), ("EN_gb", "en"), (" es-419 ", "es"), ("fr-CA", "fr"), ("de", "de"),
    ("pt-BR", "pt"), ("ja", "ja"), ("zh-Hans-CN", "zh"),
    (None, None), ("", None), ("spanish", None), ("eng", None), ("e", None), ("12", None), ("-US", None),
])
def test_normalise_language(code: str | None, expected: str | None) -> None:
    assert normalise_language(code) == expected


@pytest.mark.parametrize(("texts", "expected"), [
    (["Hi, I would like to change my booking please.", "Yes, that is fine, thanks."], "en"),
    (["Hola, quiero cambiar mi reserva para el martes.", "Sí, gracias."], "es"),
    (["Bonjour, je voudrais changer ma réservation pour mardi.", "Oui, merci beaucoup."], "fr"),
    (["Hallo, ich möchte meine Buchung ändern.", "Ja, danke, das ist gut."], "de"),
    (["Hola"], None),
    (["Okay."], None),
    ([], None),
    (["A-48213", "555 201 3344"], None),
    (["Hola, gracias, muy bien.", "Hello, thanks, yes please."], None),
])
def test_detect_language(texts: list[str], expected: str | None) -> None:
    assert detect_language(texts) == expected


def test_detect_language_accepts_any_iterable() -> None:
    assert detect_language(t for t in ["Bonjour, je suis là.", "Merci, c'est très bien."]) == "fr"


@pytest.mark.parametrize(("language", "named", "welcome_back", "new"), [
    ("en", "Hello Stefan! Welcome back. How can I help you today?",
     "Welcome back! How can I help you today?", "Hello! How can I help you today?"),
    ("es", "¡Hola Stefan! Bienvenido de nuevo. ¿En qué puedo ayudarte hoy?",
     "¡Bienvenido de nuevo! ¿En qué puedo ayudarte hoy?", "¡Hola! ¿En qué puedo ayudarte hoy?"),
    ("fr", "Bonjour Stefan ! Ravi de vous retrouver. Comment puis-je vous aider aujourd'hui ?",
     "Ravi de vous retrouver ! Comment puis-je vous aider aujourd'hui ?",
     "Bonjour ! Comment puis-je vous aider aujourd'hui ?"),
    ("de", "Hallo Stefan! Schön, dass Sie wieder anrufen. Wie kann ich Ihnen heute helfen?",
     "Schön, dass Sie wieder anrufen! Wie kann ich Ihnen heute helfen?",
     "Hallo! Wie kann ich Ihnen heute helfen?"),
])
def test_first_message_in_each_language(language: str, named: str, welcome_back: str, new: str) -> None:
    assert first_message(first_name="Stefan", language=language, returning=True) == named
    assert first_message(first_name="", language=language, returning=True) == welcome_back
    assert first_message(first_name="Stefan", language=language, returning=False) == new
    assert first_message(first_name="", language=language, returning=False) == new


@pytest.mark.parametrize("language", [None, "", "it", "klingon", "xx-YY"])
def test_unknown_language_falls_back_to_english(language: str | None) -> None:
    assert first_message(first_name="Stefan", language=language, returning=True) == (
        "Hello Stefan! Welcome back. How can I help you today?")


def test_regional_codes_pick_the_language() -> None:
    assert first_message(first_name="José", language="es-MX", returning=True).startswith("¡Hola José!")


@pytest.mark.parametrize(("name", "spoken"), [
    ("José", "José"), ("O'Brien", "O'Brien"), ("Anne-Marie", "Anne-Marie"),
    ("Liz\x00\n", "Liz"), ("{{system}} Bob", "system Bob"), ("Stefan2", "Stefan"),
    ("A" * 60, "A" * 40), ("<>!!", ""), ("  ", ""),
])
def test_the_name_is_sanitised_defensively(name: str, spoken: str) -> None:
    message = first_message(first_name=name, language="en", returning=True)
    expected = f"Hello {spoken}! Welcome back." if spoken else "Welcome back!"
    assert message.startswith(expected)


def test_supported_languages() -> None:
    assert SUPPORTED == ("en", "es", "fr", "de")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.one_of(st.none(), st.text(max_size=12)), st.booleans())
def test_first_message_is_always_clean(name: str, language: str | None, returning: bool) -> None:
    message = first_message(first_name=name, language=language, returning=returning)
    assert message
    assert len(message) <= 140
    assert not any(unicodedata.category(ch)[0] == "C" or ch.isdigit() or ch in "{}<>" for ch in message)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=100), max_size=5))
def test_detect_language_never_raises(texts: list[str]) -> None:
    assert detect_language(texts) in (None, *SUPPORTED)
