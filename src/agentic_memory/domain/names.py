"""The caller's name, as the caller gave it.

Precedence (documented choice): the caller's own latest word wins. A self-introduction or correction
in a user turn beats a data-collection field, and a later claim in the call beats an earlier one.
Data collection is an LLM's reading of the call after the fact and may be stale or misheard; what the
caller last said is what they want to be called. Data collection is used only when the caller never
introduced themselves.

Agent turns are never read (agents guess: "Is this Maria?"), nor are names of people the caller
mentions ("my wife Sarah", "I spoke to John"): only first-person introduction phrases count.
"""

from __future__ import annotations

import re
import unicodedata

from agentic_memory.domain.models import Conversation, NameClaim

NAME_KEYS = frozenset({"callername", "name", "firstname", "customername", "fullname"})
MAX_TOKEN_CHARS = 30
MAX_TOKENS = 4

_TOKEN = r"[^\W\d_]+(?:['-][^\W\d_]+)*"  # noqa: S105 - a word token of a regex, not a secret
_NEXT_TOKEN = re.compile(rf" ?({_TOKEN})\.?(?![\w'-])")  # "." for initials: "John F. Kennedy"
_PARTICLES = frozenset(("de", "del", "della", "di", "da", "das", "dos", "du", "la", "las", "le", "los",
                       "van", "von", "der", "den", "ter", "bin", "al"))
_STOP_WORDS = """
    a about actually afraid after again agent all allergic already also always am an and angry any
    anyone are as asap ask asking assistant at back bad be been before best better billing bit booking
    both bot busy but by call called caller calling can can't cannot checking client confused could
    customer did do does doing don't done dr driving early else email end even ever every everyone fine
    first for frustrated from full fun get getting glad going gone good got great had happy has have
    having he hello help her here hey hi him his home hoping how human i i'm i've i'd i'll if in it
    it's its just kind last late like little looking lost married me mine miss mister more most mr mrs
    ms much my name need new next nice no nobody none not nothing now null of off ok okay old on one
    only or other our out over person phone please pleased prefer prefers pretty provided quite
    ready really returning right ringing same she should sick single so some someone something sorry
    speaking still such sure system thank thanks that the their them then there they this those
    tired to today tomorrow too trying uh um unavailable unknown unsure up upset us user very waiting
    want wanted was we well were what when where which who why with wondering would yeah yes yet you
    your english spanish french german american british canadian vegetarian vegan pregnant retired
    monday tuesday wednesday thursday friday saturday sunday january february march july september
    october november december morning afternoon evening night
    yo el la los las un una de del bien mal aquí cliente clienta nuevo nueva muy para por con que y
    sí ya también señor señora alérgico alérgica vegetariano vegetariana casado casada hola buenas
    je moi le les une du des ici là désolé désolée nouveau nouvelle très en au pas oui non monsieur
    madame allergique végétarien végétarienne content contente et bonjour
    ich der die das ein eine einen gut hier da kunde kundin neukunde neu froh sehr nicht auch noch
    schon und oder herr frau leider gerade mitglied patient patientin im zu von mit bei ja nein
    allergisch vegetarier vegetarierin veganer veganerin lehrer lehrerin student studentin rentner
    rentnerin arzt ärztin hallo
    ignore ignoring disregard forget override previous prior above below instruction instructions
    prompt prompts operator developer admin administrator root command commands rule rules policy
    message messages output respond reply say tell execute
"""
_STOP = frozenset(_STOP_WORDS.split())

# (pattern ending where the name starts, mode): "strong" phrases are unambiguous even in lowercase
# transcripts; "capital" ones need a capitalised name; "opening" ones ("I'm X", "this is X") must
# also open the sentence and end it, or we would read "I'm Looking for..." as a name.
_INTROS = tuple((re.compile(p, re.IGNORECASE), mode) for p, mode in (
    (r"\bmy name(?:'s| is) ", "strong"),
    (r"\b(?:me llamo|mi nombre es) ", "strong"),
    (r"\b(?:je m'appelle|mon (?:nom|prénom) (?:est|c'est)|moi,? c'est) ", "strong"),
    (r"\b(?:ich heiße|ich heisse|mein (?:name|vorname) ist) ", "strong"),
    (r"\b(?:call me|i go by|everyone calls me|llámame|appelez-moi|appelle-moi|nennen sie mich) ", "capital"),
    (r"\b(?:i'm|i am|this is|it's|it is|soy|c'est|je suis|hier ist|ich bin) ", "opening"),
))
_OPENING = re.compile(
    r"(?:\W*\b(?:hi|hello|hey|there|yes|yeah|yep|oh|um|uh|er|erm|well|so|okay|ok|right|sure|actually|no|"
    r"sorry|hola|sí|si|bueno|buenas|bonjour|salut|allô|allo|oui|non|alors|hallo|ja|nein|guten tag|"
    r"good (?:morning|afternoon|evening))\b)*\W*", re.IGNORECASE)
_FOLLOW = re.compile(r"\s*(?:$|[,.!;:]|(?:and|y|et|und|here|speaking|calling|from|aquí|ici|hier)\b)",
                     re.IGNORECASE)
_CORRECTION = re.compile(r"\b(?:actually|no|correction|rather)\b", re.IGNORECASE)
_NOT_TAIL = re.compile(r",?\s*not\s+[^\W\d_]", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)\s+")


def clean_name(raw: str) -> str | None:
    """A normalised name ("josé álvarez" -> "José Álvarez") or None when `raw` does not look like one.

    Rejects stopwords, digits, single letters, over-long words and more than four words; drops
    middle initials and keeps accents, apostrophes and hyphens ("O'Brien", "Anne-Marie").
    """
    words = _normalise(raw).strip(" .,;:!?\"'()").split()
    if not 1 <= len(words) <= MAX_TOKENS:
        return None
    out: list[str] = []
    for i, word in enumerate(words):
        word = word.rstrip(".,")
        low = word.lower()
        if i and low in _PARTICLES:
            out.append(low)
        elif not _is_name_word(word):
            return None
        elif len(word) > 1:
            out.append(_capitalise(word))
        elif not i:
            return None  # a lone initial is not a name
    while out and out[-1] in _PARTICLES:
        out.pop()
    return " ".join(out) or None


def extract_name(conversation: Conversation) -> NameClaim | None:
    """The caller's name: their latest introduction or correction in the call, else data collection.

    Source is "self_introduction", "correction" (the caller marked it, e.g. "actually, call me Liz",
    or it replaces a different name given earlier in the call) or "data_collection:<key>".
    """
    return _latest_said(conversation) or _from_data(conversation)


def _latest_said(conversation: Conversation) -> NameClaim | None:
    latest: NameClaim | None = None
    for turn in conversation.caller_turns():
        for sentence in _SENTENCE.split(_normalise(turn.text)):
            for name, explicit in _intros(sentence):
                changed = latest is not None and latest.full_name.casefold() != name.casefold()
                source = "correction" if explicit or changed else "self_introduction"
                latest = NameClaim(first_name=name.split()[0], full_name=name, source=source,
                                   turn_index=turn.index)
    return latest


def _from_data(conversation: Conversation) -> NameClaim | None:
    best: NameClaim | None = None
    for point in conversation.data:
        if re.sub(r"[^a-z]", "", point.key.lower()) not in NAME_KEYS:
            continue
        name = clean_name(point.value)
        if name and (best is None or len(name.split()) > len(best.full_name.split())):
            best = NameClaim(first_name=name.split()[0], full_name=name,
                             source=f"data_collection:{point.key}")
    return best


def _intros(sentence: str) -> list[tuple[str, bool]]:
    """Names introduced in one sentence, in order, each with whether it is an explicit correction."""
    found: dict[int, tuple[str, bool]] = {}
    for pattern, mode in _INTROS:
        for match in pattern.finditer(sentence):
            read = _read_name(sentence, match.end(), lenient=mode == "strong")
            if read is None:
                continue
            raw, end = read
            prefix = sentence[:match.start()]
            if mode == "opening" and not _opens_and_ends(prefix, sentence[end:]):
                continue
            name = clean_name(raw)
            if name:
                explicit = bool(_CORRECTION.search(prefix) or _NOT_TAIL.match(sentence, end))
                found.setdefault(match.start(), (name, explicit))
    return [found[pos] for pos in sorted(found)]


def _read_name(text: str, pos: int, *, lenient: bool) -> tuple[str, int] | None:
    """Up to four name words starting at `pos`; lowercase words only after a lenient trigger."""
    words: list[str] = []
    while len(words) < MAX_TOKENS and (match := _NEXT_TOKEN.match(text, pos)):
        word, low = match.group(1), match.group(1).lower()
        if low.endswith("'s") or len(word) > MAX_TOKEN_CHARS:
            return None  # "this is Maria's husband": someone else's name
        if low in _STOP and not (words and low in _PARTICLES):
            break
        capital = word[0].isupper()
        if not words and not (capital or lenient):
            return None
        if words and not capital and low not in _PARTICLES and not (lenient and words[-1].islower()):
            break
        words.append(word)
        pos = match.end()
    while words and words[-1].lower() in _PARTICLES:
        words.pop()
    return (" ".join(words), pos) if words else None


def _opens_and_ends(prefix: str, rest: str) -> bool:
    return len(prefix) < 60 and bool(_OPENING.fullmatch(prefix)) and bool(_FOLLOW.match(rest))


def _is_name_word(word: str) -> bool:
    low = word.lower()
    return (0 < len(word) <= MAX_TOKEN_CHARS and low not in _STOP and not low.endswith("'s")
            and all(ch.isalpha() or ch in "'-" for ch in word) and word[0].isalpha() and word[-1].isalpha())


def _capitalise(word: str) -> str:
    if not (word.islower() or word.isupper()):
        return word  # "McDonald", "DeShawn": the caller's own casing
    return "".join(part[:1].upper() + part[1:].lower() for part in re.split(r"(['-])", word))


def _normalise(text: str) -> str:
    # NFKC folds look-alikes (fullwidth letters, ligatures) so they meet the same checks as plain text.
    text = unicodedata.normalize("NFKC", text or "").replace("’", "'").replace("‘", "'")
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return re.sub(r" +", " ", text).strip()
