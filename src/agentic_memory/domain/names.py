"""The caller's name, as the caller gave it: a small grammar of phone introductions.

Where a name comes from, strongest first:
  1. the caller's own words: "my name is X", "this is X", "it's X over at Y", "X here", "X speaking",
     "X calling", "X again", "X is my first name", "call me X", "soy X", "X à l'appareil", with spelled
     letters ("Jon with no H. J-O-N", "my name is spelled S-T-E-F-A-N") and appositions ("Weber here,
     Lena Weber") resolved; the latest such claim in the call wins;
  2. a data-collection field about the caller (`caller_name`, `member_name`, `owner_name`... but not
     `patient_name`, `pet_name`, `authorized_party`: those are about someone else);
  3. the call summary when it opens on the caller's full name ("Jane Doe called about ...").
Across calls (`choose`), a newer claim replaces the stored name unless it comes from a weaker source:
the caller's latest self-introduction beats any older name, and a stale data-collection or summary
reading never undoes it.

Agent turns are never a source (agents guess, mishear and greet from our own echoed `caller_name`);
they only confirm a lowercase ASR name the caller gave ("dana speaking" / "Thanks, Dana"). Names
of other people ("my wife Sarah", "this is Maria's husband", a bare answer to "what's her name?") never
count, nor does a title alone ("this is Mrs. Smith"): an unsure name is left out rather than guessed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from agentic_memory.domain.models import Conversation, NameClaim, Turn

MAX_TOKEN_CHARS = 30


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


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

# Words that follow "this is" / "it's" / "I'm" in lowercase speech and are not names.
_LOWER_STOP = _wordset("""
    about regarding concerning re urgent important ridiculous crazy weird serious great awesome perfect
    terrible awful horrible annoying confusing complicated exactly true correct wrong alright strange odd
    interesting amazing lovely wonderful cool broken leaking fixed done finished complete everything
    anything nothing something someone somebody anybody nobody everybody regular back home away out
    available free open closed early late urgent quick fast slow sure certain positive calling
    him her them his hers theirs mine yours ours the a an that this these those what who which
    hoping wondering trying looking needing sorry fine good okay ok well better worse
    mom mum dad mother father wife husband son daughter brother sister partner friend neighbour neighbor
    boss manager owner tenant landlord doctor nurse patient pharmacist plumber vet receptionist office
    today tonight tomorrow yesterday now again here there one two three four five six seven eight nine ten
    eleven twelve fifteen twenty thirty forty fifty hundred half just only still almost nearly
    """)
_STOP = _wordset(_STOP_WORDS) | _wordset("spelled spelt spell spelling first last given family surname middle "
                                         "called named")
_TITLES = _wordset("mr mrs ms miss mx dr doctor prof professor sir madam madame monsieur señor señora "
                   "señorita herr frau mister")


def clean_name(raw: str) -> str | None:
    """A normalised name ("josé álvarez" -> "José Álvarez") or None when `raw` does not look like one.

    Rejects stopwords, digits, single letters, over-long words and more than four words; drops
    middle initials and keeps accents, apostrophes and hyphens ("O'Brien", "Jean-Luc").
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



# Clause boundaries inside a sentence: "Hi Alex, it's Dana" has the introduction in its second clause.
_CLAUSE = re.compile(r"\s*(?:[,;:]|\s[-–—]\s|—)\s*")
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\b(?:Mr|Ms|Dr|St)\.)(?<!\bMrs\.)\s+")
_FILLER = re.compile(
    r"(?:\W*\b(?:hi|hello|hey|hiya|there|yes|yeah|yep|oh|um|uh|er|erm|well|so|okay|ok|right|sure|actually|"
    r"no|sorry|morning|afternoon|evening|hola|sí|si|bueno|buenas|buenos días|bonjour|salut|allô|allo|oui|"
    r"non|alors|hallo|ja|nein|guten tag|good (?:morning|afternoon|evening)|and|but|anyway)\b)*\W*",
    re.IGNORECASE)
_CORRECTION = re.compile(r"\b(?:actually|no|correction|rather|not)\b", re.IGNORECASE)
# "my name is X": anywhere in a clause, lowercase names allowed.
_STRONG = re.compile(
    r"\b(?:my (?:first |given )?name(?:'s| is)|the name(?:'s| is)|name's|me llamo|mi nombre es|"
    r"je m'appelle|mon (?:nom|prénom) (?:est|c'est)|moi,? c'est|ich heiße|ich heisse|"
    r"mein (?:name|vorname) ist|(?:you can |please |just )?call me|i go by|everyone calls me|llámame|"
    r"appelez-moi|appelle-moi|nennen sie mich) ", re.IGNORECASE)
# "this is X", "it's X": only at the opening of a clause, and the clause must end or go on with a
# follow word, or "I'm Looking for ..." would be a name.
_OPENING = re.compile(r"(?:this is|it's|it is|here's|i'm|i am|soy|c'est|je suis|hier ist|ich bin) ",
                      re.IGNORECASE)
_FOLLOW = re.compile(r"\s*(?:$|[.!;:,]|(?:and|y|et|und|here|speaking|calling|again|from|over|at|with|"
                     r"aquí|ici|hier|al habla|à l'appareil|am apparat)\b)", re.IGNORECASE)
# "X here", "X speaking", "X calling", "X again", "X à l'appareil": the name opens the clause.
_NAME_THEN = re.compile(r"\s*(?:here|speaking|calling|again|al habla|à l'appareil|am apparat)\b(?!\s*\?)",
                        re.IGNORECASE)
_FIRST_IS = re.compile(r"\s*is my (?:first|given) name\b", re.IGNORECASE)
_SPELLED = re.compile(r"(?<![\w-])[^\W\d_](?:(?:-|\. ?| )[^\W\d_]){1,14}(?![\w-])")
_LOWER_SUFFIX = re.compile(r"(?:ing|ly|ful|ous|ive|able|ible|ness|ment|tion)$")


def extract_name(conversation: Conversation) -> NameClaim | None:
    """The caller's name from one call: their latest self-introduction, else a data-collection field about
    them, else the summary's opening name. Source is "self_introduction", "correction",
    "data_collection:<key>" or "summary"."""
    return _latest_said(conversation) or _from_data(conversation) or _from_summary(conversation.summary)


def source_rank(source: str) -> int:
    """How much a name source is trusted: the caller's own words 3, data collection 2, summary 1."""
    if source.startswith("data_collection"):
        return 2
    if source == "summary":
        return 1
    return 3 if source else 0


def choose(first_name: str, source: str, claim: NameClaim | None) -> tuple[str, str]:
    """The stored (first name, source) after a newer call made `claim` (None: nothing new)."""
    if claim is None or (first_name and source_rank(claim.source) < source_rank(source)):
        return first_name, source
    return claim.first_name, claim.source


# --- the caller's own words ------------------------------------------------------------------------

def _latest_said(conversation: Conversation) -> NameClaim | None:
    latest: NameClaim | None = None
    turns = conversation.turns
    for position, turn in enumerate(turns):
        if turn.role != "user":
            continue
        text = _normalise(turn.text)
        # A lowercase word is read as a name only from lowercase (ASR-style) speech, or when the agent
        # says it back: in a cased transcript "I'm fifteen minutes away" is no introduction.
        echo = _agent_echo(turns, position)
        lowercase_speech = not any(ch.isupper() for ch in text[:1])
        for claim in _claims(text, echo, lowercase_speech=lowercase_speech):
            changed = latest is not None and latest.full_name.casefold() != claim.full_name.casefold()
            source = "correction" if claim.source == "correction" or changed else "self_introduction"
            latest = NameClaim(first_name=claim.first_name, full_name=claim.full_name, source=source,
                               turn_index=turn.index)
    return latest


def _agent_echo(turns: Sequence[Turn], position: int) -> str:
    """The agent's turns just before and after a caller turn: they confirm a lowercase ASR name."""
    return " ".join(t.text for t in turns[max(0, position - 1):position + 3] if t.role == "agent")


class _Claim:
    __slots__ = ("at", "first_name", "full_name", "source")

    def __init__(self, full_name: str, *, explicit: bool = False, at: int = 0) -> None:
        self.full_name = full_name
        self.first_name = full_name.split()[0]
        self.source = "correction" if explicit else "self_introduction"
        self.at = at  # where the name starts in its clause


def _claims(text: str, echo: str, *, lowercase_speech: bool) -> list[_Claim]:
    """Every name the caller gives for themselves in one turn, in order (spelled letters applied)."""
    out: list[_Claim] = []
    for sentence in _SENTENCE.split(text):
        clauses = [c for c in _CLAUSE.split(sentence) if c]
        question = sentence.rstrip().endswith("?")
        for i, clause in enumerate(clauses):
            if question:
                break
            claim = _clause_claim(clause, echo, lowercase_speech=lowercase_speech)
            if claim is not None:
                before = " ".join([*clauses[:i], clause[:claim.at]])
                after = clauses[i + 1] if i + 1 < len(clauses) else ""
                if _CORRECTION.search(before) or re.match(r"\s*not\b", after, re.IGNORECASE):
                    claim.source = "correction"
                out.append(claim)
            elif out and (full := _apposition(clause, out[-1])):
                out[-1] = full  # "Weber here, Lena Weber", "it's Dana. Dana Lee."
            if out and (first := _first_name_statement(clause)) and first.casefold() in (
                    w.casefold() for w in out[-1].full_name.split()):
                out[-1].first_name = first  # "Nagy Réka ... Réka is my first name"
        if (spelled := _spelled(sentence, out)) is not None:
            out.append(spelled)
    return out


def _clause_claim(clause: str, echo: str, *, lowercase_speech: bool) -> _Claim | None:
    opening = _FILLER.match(clause)
    start = opening.end() if opening else 0
    if (m := _STRONG.search(clause)) is not None:
        read = _read(clause, m.end(), lenient=True)
        name = clean_name(read[0]) if read is not None else None
        return _Claim(name, at=m.end()) if name else None
    if (m := _OPENING.match(clause, start)) is not None:
        read = _read(clause, m.end(), lenient=True)
        if read is not None and _FOLLOW.match(clause, read[1]):
            return _checked(read[0], echo, m.end(), lowercase_speech=lowercase_speech)
        return None
    read = _read(clause, start, lenient=True)
    if read is not None and _NAME_THEN.match(clause, read[1]):
        return _checked(read[0], echo, start, lowercase_speech=lowercase_speech)
    return None


def _checked(raw: str, echo: str, at: int, *, lowercase_speech: bool) -> _Claim | None:
    """A name read after a weak frame: capitalised, or lowercase that is plainly a name (or confirmed)."""
    name = clean_name(raw)
    if not name:
        return None
    words = raw.split()
    if words[0][0].isupper():
        return _Claim(name, at=at)
    first = words[0].lower()
    confirmed = re.search(rf"\b{re.escape(name.split()[0])}\b", echo) is not None
    if confirmed or (lowercase_speech and len(words) <= 2 and first not in _LOWER_STOP
                     and not _LOWER_SUFFIX.search(first) and not (first.endswith("ed") and len(first) > 5)):
        return _Claim(name, at=at)
    return None


def _read(text: str, pos: int, *, lenient: bool) -> tuple[str, int] | None:
    """Up to four name words starting at `pos` (all capitalised, or all lowercase when lenient)."""
    words: list[str] = []
    while len(words) < MAX_TOKENS and (match := _NEXT_TOKEN.match(text, pos)):
        word, low = match.group(1), match.group(1).lower()
        if low.endswith("'s") or len(word) > MAX_TOKEN_CHARS:
            return None  # "this is Maria's husband": someone else's name
        if low in _TITLES and not words:
            return None  # "this is Mrs. Smith": no first name to greet with
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


def _apposition(clause: str, last: _Claim) -> _Claim | None:
    """A bare full name right after a claim that it extends ("Weber" -> "Lena Weber")."""
    opening = _FILLER.match(clause)
    read = _read(clause, opening.end() if opening else 0, lenient=False)
    if read is None or (clause[read[1]:].strip(" .!") and not _FOLLOW.match(clause, read[1])):
        return None
    name = clean_name(read[0])
    if not name or len(name.split()) < 2 or len(last.full_name.split()) > 1:
        return None
    if last.full_name.casefold() not in (w.casefold() for w in name.split()):
        return None
    return _Claim(name, explicit=last.source == "correction")


def _first_name_statement(clause: str) -> str | None:
    """"Réka is my first name" -> "Réka"."""
    opening = _FILLER.match(clause)
    read = _read(clause, opening.end() if opening else 0, lenient=False)
    if read is None or not _FIRST_IS.match(clause, read[1]):
        return None
    name = clean_name(read[0])
    return name.split()[0] if name and len(name.split()) == 1 else None


def _spelled(sentence: str, claims: list[_Claim]) -> _Claim | None:
    """Letters spelled out ("A-N-N", "S-T-E-F-A-N") fix the latest claim that starts with the same letter,
    or give the name when the caller says they are spelling it."""
    for m in _SPELLED.finditer(sentence):
        letters = re.findall(r"[^\W\d_]", m.group(0))
        if len(letters) < 2 or not (m.group(0).count("-") or all(ch.isupper() for ch in letters)):
            continue
        word = "".join(letters)
        name = clean_name(word)
        if not name or not _looks_spelled(m.group(0)):
            continue
        if claims and _fold(claims[-1].first_name)[:1] == _fold(name)[:1]:
            last = claims[-1]
            if _fold(last.first_name) == _fold(name):
                return None  # "Zoé, Z-O-E": keep the accents they were said with
            rest = last.full_name.split()[1:] if last.full_name.split()[0] == last.first_name else []
            return _Claim(" ".join([name, *rest]), explicit=True)
        if re.search(r"\b(?:spell|spelled|spelt|spelling|name)\b", sentence, re.IGNORECASE):
            return _Claim(name, explicit=True)
    return None


def _looks_spelled(raw: str) -> bool:
    """Single letters joined by hyphens, or capitals separated by spaces or dots: not an ordinary word."""
    parts = re.split(r"[-. ]+", raw.strip())
    return len(parts) >= 2 and all(len(p) == 1 for p in parts)


# --- data collection and the summary ---------------------------------------------------------------

# A name field is about the caller when its other words name the caller's role; `patient_name`,
# `pet_name`, `spouse_name`, `authorized_party`... are about someone else.
_CALLER_ROLES = _wordset("caller customer member client owner tenant resident user contact full first given "
                         "account holder your guest patron applicant policyholder traveller traveler passenger "
                         "buyer homeowner subscriber student parent requester reporter")
_WORD_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])|[^A-Za-z]+")


def caller_name_field(key: str) -> bool:
    words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
    if "name" not in words and "nombre" not in words and "nom" not in words:
        return False
    others = [w for w in words if w not in ("name", "nombre", "nom")]
    return all(w in _CALLER_ROLES for w in others)


def _from_data(conversation: Conversation) -> NameClaim | None:
    best: NameClaim | None = None
    for point in conversation.data:
        if not caller_name_field(point.key):
            continue
        full, first = _data_value(point.value)
        if full and (best is None or len(full.split()) > len(best.full_name.split())):
            best = NameClaim(first_name=first, full_name=full, source=f"data_collection:{point.key}")
    return best


_PAREN = re.compile(r"\(([^()]*)\)")


def _data_value(value: str) -> tuple[str | None, str]:
    """'Katherine (Kate) Doe' -> ('Katherine Doe', 'Kate'); 'Doe, Jane' -> ('Jane Doe', 'Jane')."""
    nickname = None
    for inner in _PAREN.findall(value):
        candidate = clean_name(inner)
        if candidate and len(candidate.split()) == 1 and inner.strip()[:1].isupper():
            nickname = candidate
    value = _PAREN.sub(" ", value)
    if value.count(",") == 1:
        last, first = value.split(",")
        if clean_name(last) and clean_name(first) and len(last.split()) == 1:
            value = f"{first} {last}"
    full = clean_name(value)
    if not full:
        return None, ""
    return full, nickname or full.split()[0]


_SUMMARY_LEAD = re.compile(
    rf"^(?:the caller,? )?((?:{_TOKEN}) (?:{_TOKEN})(?: (?:{_TOKEN}))?)(?=,| (?:called|calls|rang|phoned|asked|"
    r"asks|wants|wanted|needs|needed|reported|reports|said|says|explained|mentioned|requested|is|was|has|had)\b)",
    re.IGNORECASE)


def _from_summary(summary: str) -> NameClaim | None:
    """'Jane Doe called about ...' or 'Jane Doe, the tenant of ...': the opening full name, capitalised."""
    m = _SUMMARY_LEAD.match(_normalise(summary))
    if m is None or not all(w[0].isupper() for w in m.group(1).split()):
        return None
    if any(w.lower() in _TITLES or w.lower() in _STOP for w in m.group(1).split()):
        return None
    name = clean_name(m.group(1))
    return NameClaim(first_name=name.split()[0], full_name=name, source="summary") if name else None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


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
