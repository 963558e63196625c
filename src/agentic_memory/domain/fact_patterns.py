"""Clause-level matchers for fact extraction: preferences, contact, plans and identifiers.

Each matcher takes one clause the caller said and returns a (fact text, slot) hit, or None
(identifiers: a list of hits). The slot is "" when the fact has none.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from agentic_memory.domain.fact_lexicon import JUNK, KIND_EN, KINDS, fold, known_topic, singular, topic_of
from agentic_memory.domain.fact_text import as_caller, sentence, third_person, trim, wordset

_CI = re.IGNORECASE

Hit = tuple[str, str]  # (fact text, slot or "")


# --- preferences -------------------------------------------------------------------------------

class _Rule(NamedTuple):
    lang: str
    pattern: re.Pattern[str]  # has an `obj` group: what the preference is about
    template: str | None  # None: restate the matched clause in the third person
    topic: str | None  # None: from obj; "x:" prefix + topic from obj; "@what": from `what`; else fixed


def _rule(lang: str, pattern: str, template: str | None = None, topic: str | None = None) -> _Rule:
    return _Rule(lang, re.compile(pattern, _CI), template, topic)


_NO_LONGER = "Caller no longer wants {obj}"
NO_LONGER_LEAD = "Caller no longer wants "
_PREFERENCES = (
    _rule("en", r"\bi (?:really |just )?(?:don't|do not|dont|no longer) (?:want|need|drink|eat|take|use|"
                r"like|have) (?P<obj>.{1,80}?) (?:anymore|any more|any longer)\b"),
    _rule("en", r"\b(?:no|not)(?: more)? (?P<obj>[^,;]{1,80}?),? (?:anymore|any more|any longer)\b",
          _NO_LONGER),
    _rule("en", r"\bno more (?P<obj>.+)", "Caller wants no more {obj}"),
    _rule("en", r"\bi no longer \w+ (?P<obj>.+)"),
    _rule("en", r"\b(?:switch|change|move|put) me (?:over )?to (?P<obj>.+)", "Caller switched to {obj}"),
    _rule("en", r"\b(?:switch|change|update) (?:my|the) (?P<what>(?:[\w'-]+ ){0,2}?[\w'-]+) "
                r"(?:from [^,;]{1,60}? )?to (?P<obj>.+)", "Caller changed their {what} to {obj}", "@what"),
    _rule("en", r"\bmake (?:it|that|mine|this one|that one) (?P<obj>.+)", "Caller now wants {obj}"),
    _rule("en", r"(?:^(?:actually|ok|okay|so|no),? |\b(?:have|get|do|want|take|give me|use|try) )"
                r"(?P<obj>(?:[\w'-]+ ){0,2}[\w'-]+) instead of (?P<old>[\w' -]+)",
          "Caller wants {obj} instead of {old}"),
    _rule("en", r"\bi(?:'d| would)? (?:\w+ly |much )?prefer (?P<obj>.+)"),
    _rule("en", r"\bi(?:'d| would) (?:much )?rather (?P<obj>.+)"),
    _rule("en", r"\bi (?:really |honestly )?(?:don't|do not|dont|never) (?:really )?(?:like|want|eat|"
                r"drink|take|use|do) (?P<obj>.+)"),
    _rule("en", r"\bi (?:really )?(?:hate|dislike|can't stand|cannot stand|can't have|can't eat|"
                r"can't drink|avoid) (?P<obj>.+)"),
    _rule("en", r"\bi(?:'m| am) not (?:a (?:big |huge )?fan of|into|keen on) (?P<obj>.+)"),
    _rule("en", r"\bi(?:'m| am) (?:\w+ly |very |really )?allergic to (?P<obj>.+)", None, "allergy:"),
    _rule("en", r"\bi(?:'m| am) (?:a |an )?(?:strict )?(?P<obj>vegetarian|vegan|pescatarian|pescetarian|"
                r"gluten[- ]free|lactose[- ]intolerant|dairy[- ]free|diabetic|coeliac|celiac|kosher|"
                r"halal)\b", None, "diet"),
    _rule("en", r"\bi (?:really |absolutely |just )?(?:like|love|adore|enjoy) (?P<obj>.+)"),
    _rule("en", r"\bi (?:\w+ )?(?:always|usually|normally|typically|generally|mostly) (?:get|have|order|"
                r"take|drink|eat|book|choose|pick|go for|ask for|want|use|pay|sit|prefer) (?P<obj>.+)"),
    _rule("es", r"\bya no (?:quiero|tomo|bebo|como|uso) (?P<obj>.+)", _NO_LONGER),
    _rule("es", r"\b(?:cámbiame|cambiame|cámbialo|cambialo|pásame|pasame) (?:a|al|por) (?P<obj>.+)",
          "Caller switched to {obj}"),
    _rule("es", r"\bprefiero (?P<obj>.+)", "Caller prefers {obj}"),
    _rule("es", r"\bno me (?:gusta|gustan) (?P<obj>.+)", "Caller doesn't like {obj}"),
    _rule("es", r"\bme (?:gusta|gustan|encanta|encantan) (?:mucho |más )?(?P<obj>.+)", "Caller likes {obj}"),
    _rule("es", r"\bsoy alérgic[oa] (?:a|al) (?P<obj>.+)", "Caller is allergic to {obj}", "allergy:"),
    _rule("es", r"\bsoy (?P<obj>vegetarian[oa]|vegan[oa]|celíac[oa]|diabétic[oa])\b", "Caller is {obj}",
          "diet"),
    _rule("es", r"\b(?:siempre|normalmente|usualmente) (?:pido|tomo|bebo|como|uso|reservo) (?P<obj>.+)",
          "Caller usually has {obj}"),
    _rule("fr", r"\bje ne (?:veux|prends|bois|mange) plus (?:de |d')?(?P<obj>.+)", _NO_LONGER),
    _rule("fr", r"\bje préfère (?P<obj>.+)", "Caller prefers {obj}"),
    _rule("fr", r"\bje n'aime pas (?P<obj>.+)", "Caller doesn't like {obj}"),
    _rule("fr", r"\bj'(?:aime|adore) (?:bien |beaucoup )?(?P<obj>.+)", "Caller likes {obj}"),
    _rule("fr", r"\bje suis allergique (?:à|au|aux) (?P<obj>.+)", "Caller is allergic to {obj}", "allergy:"),
    _rule("fr", r"\bje suis (?P<obj>végétarien(?:ne)?|végétalien(?:ne)?|vegan|végane)\b",
          "Caller is {obj}", "diet"),
    _rule("fr", r"\bje (?:prends|bois|commande) (?:toujours|d'habitude|généralement) (?P<obj>.+)",
          "Caller usually has {obj}"),
    _rule("de", r"\b(?:keine?n?|nicht) (?P<obj>.{1,80}?) mehr\b", _NO_LONGER),
    _rule("de", r"\bich bevorzuge (?P<obj>.+)", "Caller prefers {obj}"),
    _rule("de", r"\bich (?:hätte|habe|nehme|trinke|esse|möchte) (?:\w+ )?lieber (?P<obj>.+)",
          "Caller prefers {obj}"),
    _rule("de", r"\bich mag (?:keine?n?|nicht) (?P<obj>.+)", "Caller doesn't like {obj}"),
    _rule("de", r"\bich (?:mag|liebe) (?P<obj>.+)", "Caller likes {obj}"),
    _rule("de", r"\bich bin allergisch (?:gegen|auf) (?P<obj>.+)", "Caller is allergic to {obj}", "allergy:"),
    _rule("de", r"\bich bin (?P<obj>vegetarier(?:in)?|veganer(?:in)?|vegetarisch|vegan)\b", "Caller is {obj}",
          "diet"),
    _rule("de", r"\bich (?:nehme|trinke|bestelle|esse) (?:immer|meistens|normalerweise) (?P<obj>.+)",
          "Caller usually has {obj}"),
)
# Requests ("I'd like decaf") are one-off unless the caller says they are standing.
_WANTS = (_rule("en", r"\bi(?:'d like| would like| want| need|'ll have|'ll take| will have) (?P<obj>.+)"),)
_FROM_NOW_ON = re.compile(r"\b(?:from now on|going forward|in (?:the )?future|de ahora en adelante|"
                          r"désormais|à partir de maintenant|ab jetzt|von nun an|ab sofort),?\s*"
                          r"(?P<rest>.+)", _CI)
_ASKING = wordset("if whether do did does would should could can when why what")
_QUESTION_LEADS = wordset("is are will shall may might how where who which")
_PERSONS = wordset("me us you him her them it myself yourself")


def preference(clause: str) -> Hit | None:
    later = _FROM_NOW_ON.search(clause)
    if later and (hit := _match_preference(later["rest"], _PREFERENCES + _WANTS)):
        return f"{hit[0].rstrip('.…')} from now on.", hit[1]
    return _match_preference(clause, _PREFERENCES) or arrangement(clause)


# A standing arrangement stated as a constraint, not as a liking: "the only time I can do now is Saturday
# mornings", "it has to be a weekday evening", "schedule everything on Mondays from now on". Its topic must
# come from the lexicon (a day or a time of day is "appointment time"), so "it has to be today" or "put it on
# my card going forward" without a known topic are no slot: a one-off request must not replace a standing one.
_ONLY_NOW = "Caller can only do {obj} now"
_ARRANGEMENTS = (
    (re.compile(r"\bthe only (?:time|day|slot|option|thing)s? (?:that )?(?:i|we) can (?:do|make|manage|come|"
                r"come in|get in|take|book)(?: it)?(?: now| these days| anymore)? (?:is|are|would be) "
                r"(?P<obj>.+)", _CI), _ONLY_NOW),
    (re.compile(r"\b(?:i|we) can only (?:do|make it|make|come(?: in)?|manage|get in|take|book)(?: now)? "
                r"(?P<obj>.+)", _CI), _ONLY_NOW),
    (re.compile(r"(?:^|\b(?:it|that|they) )(?:has to|have to|needs to|need to|must|'s got to|has got to) be "
                r"(?P<obj>.+)", _CI), "Caller says it has to be {obj}"),
    (re.compile(r"^(?:(?:so|and|then|okay|ok|please),? )*(?P<obj>.+?),? (?:from now on|going forward|"
                r"from here on(?: out)?)\b(?:,? [^.;]{0,40})?\W*$", _CI), "{obj} from now on"),
)
_NOW_TAIL = re.compile(r",?\s+(?:now|these days|anymore|any more)$", _CI)
_LEAD_IN = re.compile(r"^(?:(?:so|and|then|okay|ok|please|just),? )+", _CI)


def arrangement(clause: str) -> Hit | None:
    """A standing arrangement said as a constraint or for the future, with a slot so a later one replaces it."""
    if clause.rstrip().endswith("?"):
        return None  # "can it be Tuesdays from now on?" is asked, not agreed
    later = _FROM_NOW_ON.search(clause)
    if later and not _asked(clause, later.start()) and (topic := known_topic(later["rest"])):
        return f"{as_caller(_LEAD_IN.sub('', trim(later['rest']))).rstrip('.…')} from now on.", _slot(topic)
    for pattern, template in _ARRANGEMENTS:
        m = pattern.search(clause)
        if not m or _asked(clause, m.start()) or not (topic := known_topic(m["obj"])):
            continue
        obj = _NOW_TAIL.sub("", trim(m["obj"]))
        if template.startswith("{obj}"):
            return f"{as_caller(_LEAD_IN.sub('', obj)).rstrip('.…')} from now on.", _slot(topic)
        return sentence(template.format(obj=third_person(obj))), _slot(topic)
    return None


def _slot(topic: str) -> str:
    return topic if topic.startswith("contact:") else f"preference:{topic}"


def _match_preference(clause: str, rules: tuple[_Rule, ...]) -> Hit | None:
    for rule in rules:
        m = rule.pattern.search(clause)
        if not m or _asked(clause, m.start()) or _first_word(m["obj"]) in JUNK:
            continue
        if "old" in m.groupdict() and _first_word(m["old"]) in _PERSONS:
            continue  # "can my roommate do it instead of me?": who does it, not a changed preference
        groups = {k: trim(v) for k, v in m.groupdict().items() if v}
        topic = _preference_topic(rule.topic, groups, romance=rule.lang in ("es", "fr"))
        if not topic:
            continue
        if rule.template is None:
            text = as_caller(clause[m.start():m.end()])
        else:  # only English keeps pronouns to swap; other languages are quoted as said
            values = {k: third_person(v) if rule.lang == "en" else v for k, v in groups.items()}
            text = sentence(rule.template.format(**values))
            if rule.template == _NO_LONGER:
                text = _with_replacement(text, clause[m.end():], english=rule.lang == "en")
        return text, topic if topic.startswith("contact:") else f"preference:{topic}"
    return None


def _with_replacement(text: str, rest: str, *, english: bool) -> str:
    """"not vegetarian anymore, I've gone pescatarian": what replaced the old value belongs in the fact,
    or the fact names only the stale value."""
    rest = trim(rest.strip(" ,;:-"))
    if len(rest.split()) < 2:
        return text
    return sentence(f"{text.rstrip('.')}; {third_person(rest) if english else rest}")


def _preference_topic(rule: str | None, groups: dict[str, str], *, romance: bool) -> str | None:
    obj_topic = topic_of(groups.get("obj", ""), romance=romance)
    if rule is None:
        return obj_topic
    if rule == "@what":
        return topic_of(groups.get("what", ""), romance=romance) or obj_topic
    if rule.endswith(":"):
        return f"{rule}{obj_topic}" if obj_topic else None
    return rule


def _asked(clause: str, start: int) -> bool:
    """'Do I like ...', 'if I prefer ...', 'can my roommate do ... instead?': a question or a condition, not
    a statement."""
    before = clause[:start].split()
    if (clause.rstrip().endswith("?") and len(before) > 1 and before[0].lower() in _ASKING | _QUESTION_LEADS
            and before[1].lower() != "you"):  # "can you switch me to ...?" is a request: it stands
        return True
    return bool(before) and before[-1].lower().strip(",") in _ASKING


def _first_word(text: str) -> str:
    return text.split(maxsplit=1)[0].lower().strip(",.") if text.strip() else ""


# --- contact -----------------------------------------------------------------------------------

_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"
_CLOCK = (r"(?:at|by|around) \d{1,2}(?::\d\d)?(?!\d|[/.-]\d)"  # "at 3", not "at 555-0100"
          r"|\d{1,2}(?::\d\d)? ?(?:am|pm|a\.m\.|p\.m\.|o'clock)")
_TIME_HINT = re.compile(rf"\b(?:before|after|between|until|till|during|any ?time|tomorrow|today|tonight|"
                        rf"weekdays?|weekends?|{_DAYS}|mornings?|afternoons?|evenings?|lunch(?:time)?|noon|"
                        rf"{_CLOCK})", _CI)
_CONTACT_VERB = r"call|ring|phone|text|email|e-mail|message|whatsapp|reach|contact"
_PARTICIPLE = {"call": "called", "ring": "called", "phone": "called", "text": "texted", "email": "emailed",
               "e-mail": "emailed", "message": "messaged", "whatsapp": "messaged on WhatsApp",
               "reach": "reached", "contact": "contacted"}
_DONT_CONTACT = re.compile(
    rf"\b(?:please )?(?:don't|do not|never) (?P<verb>{_CONTACT_VERB})\b(?: me\b)?(?P<rest>.*)", _CI)
_CONTACT_ME = re.compile(rf"\b(?P<verb>{_CONTACT_VERB}) me\b(?P<rest>.*)", _CI)
_BE_CONTACTED = re.compile(r"\bi(?:'d| would)? (?:prefer|like|want|rather) (?:to )?(?:be|get) (?:called|"
                           r"rung|phoned|texted|e-?mailed|messaged|reached|contacted)\b.*", _CI)
_BEST_CHANNEL = re.compile(r"\b(?:e-?mails?|texts?|texting|sms|phone(?: calls?)?|calls?|mobile|cell|"
                           r"whatsapp|landline)(?: is| are| would be| works?)? (?:the )?(?:best|better|"
                           r"easiest|easier|preferred|ideal)\b", _CI)
_BEST_WAY = re.compile(r"\b(?:the )?best (?P<what>way|number|time) to (?:reach|contact|call|get hold of) "
                       r"me (?:is|would be) (?P<rest>.+)", _CI)
_CHANNEL_REST = re.compile(r"(?:on|at|by|via|through|using|instead|if|when|whenever|only|from now on)\b", _CI)


def contact(clause: str) -> Hit | None:
    if m := _BEST_WAY.search(clause):
        what = m["what"].lower()
        slot = "contact:time" if what == "time" else "contact:channel"
        return sentence(f"The best {what} to reach the caller is {third_person(trim(m['rest']))}"), slot
    if m := _BE_CONTACTED.search(clause):
        return as_caller(m.group(0)), "contact:time" if _TIME_HINT.search(m.group(0)) else "contact:channel"
    if m := _BEST_CHANNEL.search(clause):
        said = m.group(0)
        return sentence(f"Caller says {said[:1].lower()}{said[1:]}"), "contact:channel"
    for pattern, negative in ((_DONT_CONTACT, True), (_CONTACT_ME, False)):
        if (m := pattern.search(clause)) and (hit := _contact_request(m, negative=negative)):
            return hit
    return None


def _contact_request(m: re.Match[str], *, negative: bool) -> Hit | None:
    """'call me back on my mobile', "don't call before 10", 'text me'; not 'call me Liz'."""
    verb = m["verb"].lower()
    rest = trim(m["rest"].strip())
    back = ""
    if rest.lower().startswith("back"):
        back, rest = " back", rest[4:].lstrip(" ,")
    timed = bool(_TIME_HINT.search(rest))
    written = verb not in ("call", "ring", "phone", "reach", "contact")
    if not (timed or negative or _CHANNEL_REST.match(rest) or (written and not rest)):
        return None  # "call me Liz", "email me the receipt": no standing contact preference
    slot = "contact:time" if timed else "contact:channel"
    detail = f"{back} {third_person(rest)}".rstrip()
    if negative:
        if rest and not timed and not _CHANNEL_REST.match(rest):
            return sentence(f"Caller says: {third_person(m.group(0).strip())}"), slot
        return sentence(f"Caller asks not to be {_PARTICIPLE[verb]}{detail}"), slot
    lead = "can be" if verb in ("reach", "contact") else "wants to be"
    return sentence(f"Caller {lead} {_PARTICIPLE[verb]}{detail}"), slot


# --- plans -------------------------------------------------------------------------------------

_DATE_HINT = re.compile(rf"\b(?:today|tonight|tomorrow|{_DAYS}|next (?:week|month|year|weekend)|"
                        rf"this (?:morning|afternoon|evening|week|weekend|month)|weekend|noon|midnight|"
                        rf"(?:{_MONTHS}) \d{{1,2}}|\d{{1,2}}(?:st|nd|rd|th)\b|{_CLOCK}|"
                        rf"in (?:a|an|one|two|three|a few|\d+) (?:days?|weeks?|months?|hours?))", _CI)
_EVENT = (r"appointments?|flights?|reservations?|bookings?|surgery|operation|meeting|interview|delivery|"
          r"trip|visit|procedure|consultation|check-?in|check-?out|stay|class|session|exam|treatment|"
          r"cleaning|check-?up|installation|pick-?up|viewing|lesson|table")
_RESCHEDULE = re.compile(rf"\b(?:reschedule|move|change|push|shift|bring|switch|postpone|cancel)"
                         rf"(?: back| forward)? (?:my|the|our|\w+'s) (?:[\w'-]+ ){{0,2}}?(?P<what>{_EVENT})"
                         rf"(?P<tail> (?:to|until|till|for|from|on|at|by)\b.*)?$", _CI)
_MOVED = re.compile(rf"\bmy (?:[\w'-]+ ){{0,2}}?(?P<what>{_EVENT}) (?:was|is|has been|got|'s been|"
                    rf"is being) (?:moved|rescheduled|changed|pushed|postponed|brought forward|cancell?ed|"
                    rf"now)\b.*", _CI)
_NOT_PLAN = "calling|ringing|phoning|wondering|asking|looking|trying|talking|speaking|thinking|feeling|sorry"
_PLAN = re.compile(rf"\b(?:i(?:'m| am) (?!(?:{_NOT_PLAN})\b)[a-z]+ing\b|i(?:'ll| will)\b|"
                   rf"i(?:'m| am) calling (?:about|regarding) (?:my|the) (?:[\w'-]+ ){{0,2}}?(?:{_EVENT})\b|"
                   rf"i(?:'ve| have)(?: got)? (?:an?|my|the|another) (?:[\w'-]+ ){{0,2}}?(?:{_EVENT})\b|"
                   rf"my (?:[\w'-]+ ){{0,2}}?(?:{_EVENT})(?:'s| is| are| was)\b)", _CI)


def reschedule(clause: str) -> Hit | None:
    """A plan that replaces an earlier one gets a slot so it supersedes it; other plans coexist."""
    if m := _RESCHEDULE.search(clause.rstrip(" .!?")):
        return sentence(f"Caller asked to {third_person(m.group(0))}"), f"plan:{singular(m['what'].lower())}"
    if m := _MOVED.search(clause):
        return as_caller(m.group(0)), f"plan:{singular(m['what'].lower())}"
    return None


def plan(clause: str) -> Hit | None:
    m = _PLAN.search(clause)
    if not m or _asked(clause, m.start()) or not _DATE_HINT.search(clause, m.end()):
        return None  # without a date it is talk ("I'll hold"), not a plan
    return as_caller(clause[m.start():]), ""


# --- addresses -------------------------------------------------------------------------------

# A street address the caller gives ("It's 58 Elm Hill Road in Springfield"): one slot, so the newest address
# said replaces an older one ("what's the address now?" pins it). House number and capitalised street words,
# so "2 miles down the road" is none.
_STREET = (r"(?i:street|st|road|rd|avenue|ave|drive|dr|lane|ln|court|ct|boulevard|blvd|way|place|pl|terrace|"
           r"crescent|close|circle|parkway|pkwy|row|square|trail|highway|hwy)")
_ADDRESS = re.compile(rf"(?<![\w,.-])(?P<addr>\d{{1,5}}[A-Za-z]? (?:[A-Z][\w'-]*\.? ){{1,3}}{_STREET}\b\.?"
                      rf"(?:,? (?i:apartment|apt\.?|unit|suite|flat|#) ?[\w-]+)?"
                      rf"(?:,? (?:in )?[A-Z][\w'-]+(?: [A-Z][\w'-]+)?)?)")


def address(clause: str) -> Hit | None:
    if m := _ADDRESS.search(clause):
        return f"Address the caller gave: {m['addr'].rstrip('.')}.", "contact:address"
    return None


# --- identifiers -------------------------------------------------------------------------------

_ID = r"(?P<id>(?=[A-Za-z0-9/-]*\d)[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*)(?![\w%-])"
_NOT_UNIT = (r"(?!\s*(?:weeks?|days?|months?|years?|hours?|minutes?|nights?|people|persons|guests|times|"
             r"items|dollars?|euros?|pounds?|percent|am|pm|o'clock)\b)")
_LINK = (r"(?P<link>(?:[\s,:#]{0,3}\b(?:is|was|it's|it is|es|era|est|c'est|ist|lautet|uh|um|er|erm|eh|"
         r"euh|äh|ähm|el|le|la)\b){0,4}[\s,:#]{0,3})")
_ID_PATTERNS = tuple(re.compile(prefix + _LINK + _ID + _NOT_UNIT, _CI) for prefix in (
    (rf"\b(?P<kind>{KINDS})(?P<noun>\s*#|\s+(?:number|num|nr|id|code|n[úu]mero|num[ée]ro|no\b\.?|"
     rf"n[º°]\.?)(?!\w))?"),
    rf"\b(?P<noun>n[úu]mero|num[ée]ro) (?:de |d'|du )(?:la |el |le |l')?(?P<kind>{KINDS})",
    (r"\b(?P<kind>bestell|auftrags|buchungs|reservierungs|kunden|vertrags|policen|versicherungs|schadens?|"
     r"zimmer|sendungs|tracking|ticket|fall|vorgangs|konto|rechnungs|referenz|best[äa]tigungs|mitglieds)"
     r"(?P<noun>nummer|-?nr\.?)"),
))


def identifiers(clause: str) -> list[Hit]:
    """'my order number is A-48213' -> "Caller's order number is A-48213.", identifier kept verbatim."""
    out: list[Hit] = []
    seen: set[tuple[str, str]] = set()
    for pattern in _ID_PATTERNS:
        for m in pattern.finditer(clause):
            kind = KIND_EN.get(fold(m["kind"]), fold(m["kind"]))
            if (kind, m["id"]) in seen or not _plausible_id(m, kind):
                continue
            seen.add((kind, m["id"]))
            noun = {"id": "ID", "code": "code"}.get((m["noun"] or "").strip(" #").lower(), "number")
            out.append((f"Caller's {kind} {noun} is {m['id']}.", f"identifier:{kind}"))
    return out


def _plausible_id(m: re.Match[str], kind: str) -> bool:
    """'room 512' and 'claim 77-1234' yes; 'order 2 lattes' or 'my order is 42' no."""
    ident = m["id"]
    if len(ident) < (2 if kind == "room" else 3):
        return False
    explicit = bool(m["noun"]) or bool(re.search(r"\w", m["link"]))
    return explicit or kind == "room" or not ident.isdigit() or len(ident) >= 4
