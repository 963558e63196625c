"""Which language a caller speaks: normalise a declared code, or guess from their own words.

The guess is a stopword count, not a classifier: cheap, dependency-free and good enough to pick a
greeting among the four languages we greet in. It abstains rather than guess on thin evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SUPPORTED = ("en", "es", "fr", "de")
MIN_HITS = 3
MARGIN = 1.5  # the winner needs this many times the runner-up's hits

_CODE = re.compile(r"[a-z]{2}")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Frequent function words, chosen to be distinctive: words shared by two languages ("de", "la",
# "me", "es") are left out so they cannot tip the count.
_STOPWORDS = {
    "en": "the and is are you my i i'm it's to of it that this what with have for not can please "
          "thanks thank yes would like me was be do just your hello hi hey yeah okay about",
    "es": "el los las y por para con una pero muy sí gracias hola quiero mi yo está estoy tengo "
          "cómo qué favor bueno necesito también del al lo puedo usted",
    "fr": "le les et je vous pour avec une mais très oui merci bonjour c'est j'ai suis pas ne du "
          "des au mon ma mes nous qui dans sur ça voudrais s'il plaît",
    "de": "der die das und ist ich sie nicht mit für ein eine auch bitte danke hallo ja nein mein meine "
          "habe bin wie was guten gerne möchte sehr auf zu dem",
}
_LOOKUP = {word: lang for lang, words in _STOPWORDS.items() for word in words.split()}


def normalise_language(code: str | None) -> str | None:
    """"en-US" -> "en", "PT_br" -> "pt"; anything that is not a 2-letter primary subtag -> None.

    Language names ("spanish") are deliberately not mapped: the wire format carries ISO codes.
    """
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if _CODE.fullmatch(primary) else None


def detect_language(texts: Iterable[str]) -> str | None:
    """Best guess among SUPPORTED from the caller's turns, or None on too little or mixed evidence."""
    counts = dict.fromkeys(SUPPORTED, 0)
    for text in texts:
        for word in _WORD.findall(text.replace("’", "'").lower()):
            lang = _LOOKUP.get(word)
            if lang:
                counts[lang] += 1
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
    (best, hits), (_, runner_up) = ranked[0], ranked[1]
    if hits < MIN_HITS or hits < MARGIN * runner_up:
        return None
    return best
