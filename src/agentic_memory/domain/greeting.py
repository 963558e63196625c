"""The agent's first sentence: greet a returning caller by name, in their language."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from agentic_memory.domain.language import normalise_language

NAME_LIMIT = 40

# language -> (returning with name, returning without name, new caller)
_MESSAGES = {
    "en": ("Hello {name}! Welcome back. How can I help you today?",
           "Welcome back! How can I help you today?",
           "Hello! How can I help you today?"),
    "es": ("¡Hola {name}! Bienvenido de nuevo. ¿En qué puedo ayudarte hoy?",
           "¡Bienvenido de nuevo! ¿En qué puedo ayudarte hoy?",
           "¡Hola! ¿En qué puedo ayudarte hoy?"),
    "fr": ("Bonjour {name} ! Ravi de vous retrouver. Comment puis-je vous aider aujourd'hui ?",
           "Ravi de vous retrouver ! Comment puis-je vous aider aujourd'hui ?",
           "Bonjour ! Comment puis-je vous aider aujourd'hui ?"),
    "de": ("Hallo {name}! Schön, dass Sie wieder anrufen. Wie kann ich Ihnen heute helfen?",
           "Schön, dass Sie wieder anrufen! Wie kann ich Ihnen heute helfen?",
           "Hallo! Wie kann ich Ihnen heute helfen?"),
}
_SPACE = re.compile(r"\s+")


def first_message(*, first_name: str, language: str | None, returning: bool) -> str:
    """A new caller gets a plain greeting even if a name is known: we only greet by name people we met."""
    named, welcome_back, new = _MESSAGES.get(normalise_language(language) or "", _MESSAGES["en"])
    if not returning:
        return new
    name = _safe_name(first_name)
    return named.format(name=name) if name else welcome_back


def _safe_name(raw: str) -> str:
    # The name is spoken by a TTS voice and may echo into prompts: letters, spaces, ' - . only.
    text = unicodedata.normalize("NFC", raw or "").replace("’", "'")
    text = "".join(ch if ch.isalpha() or ch in "'-." else " " for ch in text)
    text = _SPACE.sub(" ", text).strip(" '-.")
    return text[:NAME_LIMIT].rstrip(" '-.")


@dataclass(frozen=True, slots=True)
class GreetingPolicy:
    """Whether and how we replace the agent's own first message (which may carry a legal notice).

    `enabled=False`: never (the agent's opening always plays). `templates` (language -> text with `{name}`):
    a returning caller whose name we know hears that language's template; anyone else hears the agent's
    own opening. Languages without a template keep the built-in greeting.
    """

    enabled: bool = True
    templates: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, enabled: bool, templates: Mapping[str, str]) -> GreetingPolicy:
        cleaned = {normalise_language(lang) or lang.lower(): text for lang, text in templates.items() if text}
        return cls(enabled, tuple(sorted(cleaned.items())))

    def choose(self, *, first_name: str, language: str | None, returning: bool, built_in: str) -> str | None:
        """The first message to send, or None to leave the agent's own."""
        if not self.enabled:
            return None
        template = dict(self.templates).get(normalise_language(language) or "en")
        if template is None:
            return built_in
        name = _safe_name(first_name)
        if not (returning and name):
            return None
        return template.replace("{name}", name)  # not str.format: a template may hold other braces
