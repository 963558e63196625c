"""Text helpers for fact extraction: cleaning, capping, and restating the caller in the third person.

'I always get a latte' becomes 'Caller always gets a latte.'; 'my flight is ...' becomes
"Caller's flight is ...". Only English pronouns and verbs are rewritten.
"""

from __future__ import annotations

import re
import unicodedata

MAX_FACT_CHARS = 200
_CI = re.IGNORECASE


def wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


def clean(text: str) -> str:
    # Control and format characters would reach prompts and TTS: blank them, keep letters and accents.
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return re.sub(r" +", " ", text).strip()


def cap(text: str, limit: int = MAX_FACT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


# --- turning a first-person clause into a third-person fact ------------------------------------

_PRONOUN = re.compile(r"\b(?:i am|i was|i'm|i'd|i've|i'll|myself|mine|my|me|i)\b", _CI)
_PRONOUNS = {"i am": "they are", "i was": "they were", "i'm": "they're", "i'd": "they'd",
             "i've": "they've", "i'll": "they'll", "myself": "themselves", "mine": "theirs", "my": "their",
             "me": "them", "i": "they"}
_ADVERBS = (r"always|usually|normally|really|typically|generally|never|also|just|definitely|absolutely|"
            r"much|still|only|mostly|actually|often|sometimes|rarely|no longer")
_LEAD = re.compile(rf"(?P<subj>i'm|i am|i'll|i will|i've|i have|i'd|i would|i was|my|i)\b"
                   rf"(?P<adv>(?: (?:{_ADVERBS})\b)*) ?(?P<rest>.*)", _CI | re.DOTALL)
_AUX = {"i'm": "is", "i am": "is", "i'll": "will", "i will": "will", "i've": "has", "i have": "has",
        "i'd": "would", "i would": "would", "i was": "was"}
_VERB_FORMS = {"am": "is", "are": "is", "have": "has", "do": "does", "don't": "doesn't",
               "dont": "doesn't", "go": "goes"}
_MODALS = wordset("can can't cannot could couldn't will won't would wouldn't should shouldn't must "
                  "might may did didn't")
_TAIL = re.compile(r"\s*\b(?:please|thanks|thank you|if possible|if that's ok(?:ay)?|you know|i think|"
                   r"i guess|though|por favor|gracias|s'il vous plaît|merci|bitte|danke)$", _CI)


def third_person(text: str) -> str:
    return _PRONOUN.sub(lambda m: _PRONOUNS.get(m.group(0).lower(), m.group(0)), text)


def _conjugate(verb: str) -> str:
    low = verb.lower()
    if low in _VERB_FORMS:
        return _VERB_FORMS[low]
    if low in _MODALS or not low.isalpha():
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def as_caller(phrase: str) -> str:
    """'I always get a latte' -> 'Caller always gets a latte.'; 'my flight is' -> "Caller's flight is"."""
    m = _LEAD.match(phrase)
    if not m:
        return sentence(f"Caller: {third_person(phrase)}")
    subj, adv, rest = m["subj"].lower(), m["adv"], third_person(m["rest"])
    if subj == "my":
        return sentence(f"Caller's{adv} {rest}")
    if subj in _AUX:
        return sentence(f"Caller {_AUX[subj]}{adv} {rest}")
    verb, _, tail = rest.partition(" ")
    return sentence(f"Caller{adv} {_conjugate(verb)} {tail}")


def trim(text: str) -> str:
    """Drop trailing punctuation and politeness ("..., please") that carry no fact."""
    while True:
        stripped = _TAIL.sub("", text.rstrip(" ,;:.!?-…")).rstrip(" ,;:.!?-…")
        if stripped == text:
            return text[:160]
        text = stripped


def sentence(text: str) -> str:
    text = trim(text.strip())
    return cap(text[:1].upper() + text[1:] + ".")
