"""Facts about the caller from a finished call, by rules: no LLM, no network.

Facts come from the call analysis (summary, evaluations, data collection) and from what the caller
said; agent turns are never mined, because agents restate, guess and upsell. Caller facts are short
third-person sentences that keep the caller's words ("Caller prefers oat milk in their latte.").

Slots name what a fact is about, so a newer fact in the same slot supersedes the older one:
  preference:<topic>   topic from a small lexicon ("milk", "seat", "appointment time") or the object's
                       head noun; allergies are preference:allergy:<allergen> so they never replace each other
  contact:channel, contact:time
  identifier:<kind>    order, claim, booking, room, tracking ...
  plan:<event>         only reschedules ("move my appointment to Friday"); other plans have no slot
  data:<key>           data-collection results
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple, Protocol

from agentic_memory.domain.models import Conversation, Fact

MAX_FACT_CHARS = 200
MAX_SUMMARY_CHARS = 1000  # the summary is one memory; the caller card trims it for display
_CI = re.IGNORECASE

Hit = tuple[str, str]  # (fact text, slot or "")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


class FactExtractor(Protocol):
    """Turns a finished call into proposed facts; an LLM-backed extractor can implement this later."""

    def extract(self, conversation: Conversation) -> list[Fact]: ...


class RuleFactExtractor:
    """Regex and lexicon rules over the analysis and the caller's own turns (en, es, fr, de)."""

    def extract(self, conversation: Conversation) -> list[Fact]:
        facts = _analysis_facts(conversation)
        for turn in conversation.caller_turns():
            for clause in _clauses(turn.text):
                facts.extend(_clause_facts(clause, turn.index))
        return _unique(facts)


# --- the call analysis and the shape of a transcript -------------------------------------------

_EMPTY_VALUES = frozenset({"", "none", "null", "n/a", "na", "unknown", "not provided", "-"})
_SENTENCE = re.compile(  # sentence ends, but not after "order no." or "Dr."
    r"(?<=[.!?;])(?<!\bno\.)(?<!\bnr\.)(?<!\bdr\.)(?<!\bmr\.)(?<!\bms\.)(?<!\bst\.)\s+", _CI)
_CLAUSE = re.compile(
    r",?\s+(?:and|but|so|also|plus|y|pero|et|mais|und|aber)\s+(?=(?:i|my|yo|je|j'|ich|mein\w*)\b)"
    r"|,\s+(?:and\s+|but\s+)?(?=(?:switch|change|make|move|please|text|email|call|from now on)\b)", _CI)


def _analysis_facts(conversation: Conversation) -> list[Fact]:
    facts: list[Fact] = []
    if summary := _clean(conversation.summary):
        facts.append(Fact(text=_cap(summary, MAX_SUMMARY_CHARS), category="summary"))
    for ev in conversation.evaluations:
        verdict = ": ".join(p for p in (_clean(ev.criteria_id), _clean(ev.result)) if p)
        if verdict and (rationale := _clean(ev.rationale)):
            facts.append(Fact(text=_cap(f"{verdict} — {rationale}"), category="evaluation"))
    for point in conversation.data:
        key, value = _clean(point.key), _clean(point.value)
        if key and value.lower() not in _EMPTY_VALUES:
            facts.append(Fact(text=_cap(f"{_key_words(key)}: {value}"), category="data", slot=f"data:{key}"))
    return facts


def _clause_facts(clause: str, index: int) -> list[Fact]:
    """Identifiers always; then at most one of contact, reschedule, preference or plan per clause."""
    found = [Fact(text, "identifier", slot, index) for text, slot in _identifiers(clause)]
    for finder, category in ((_contact, "contact"), (_reschedule, "plan"),
                             (_preference, "preference"), (_plan, "plan")):
        if hit := finder(clause):
            text, slot = hit
            if slot.startswith("contact:"):
                category = "contact"  # "I prefer email" is a contact preference
            found.append(Fact(_cap(text), category, slot or None, index))
            break
    return found


def _clauses(text: str) -> list[str]:
    out: list[str] = []
    for sentence in _SENTENCE.split(_clean(text).replace("’", "'")):
        out.extend(part.strip() for part in _CLAUSE.split(sentence) if part.strip())
    return out


def _unique(facts: list[Fact]) -> list[Fact]:
    seen: set[str] = set()
    out: list[Fact] = []
    for fact in facts:
        if fact.text.casefold() not in seen:
            seen.add(fact.text.casefold())
            out.append(fact)
    return out


def _clean(text: str) -> str:
    # Control and format characters would reach prompts and TTS: blank them, keep letters and accents.
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return re.sub(r" +", " ", text).strip()


def _cap(text: str, limit: int = MAX_FACT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _key_words(key: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])|[_\-.]+", " ", key).split()
    return " ".join(words).capitalize() if words else key


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
_MODALS = _wordset("can can't cannot could couldn't will won't would wouldn't should shouldn't must "
                   "might may did didn't")
_TAIL = re.compile(r"\s*\b(?:please|thanks|thank you|if possible|if that's ok(?:ay)?|you know|i think|"
                   r"i guess|though|por favor|gracias|s'il vous plaît|merci|bitte|danke)$", _CI)


def _third(text: str) -> str:
    return _PRONOUN.sub(lambda m: _PRONOUNS[m.group(0).lower()], text)


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


def _as_caller(phrase: str) -> str:
    """'I always get a latte' -> 'Caller always gets a latte.'; 'my flight is' -> "Caller's flight is"."""
    m = _LEAD.match(phrase)
    if not m:
        return _sentence(f"Caller: {_third(phrase)}")
    subj, adv, rest = m["subj"].lower(), m["adv"], _third(m["rest"])
    if subj == "my":
        return _sentence(f"Caller's{adv} {rest}")
    if subj in _AUX:
        return _sentence(f"Caller {_AUX[subj]}{adv} {rest}")
    verb, _, tail = rest.partition(" ")
    return _sentence(f"Caller{adv} {_conjugate(verb)} {tail}")


def _trim(text: str) -> str:
    """Drop trailing punctuation and politeness ("..., please") that carry no fact."""
    while True:
        stripped = _TAIL.sub("", text.rstrip(" ,;:.!?-…")).rstrip(" ,;:.!?-…")
        if stripped == text:
            return text[:160]
        text = stripped


def _sentence(text: str) -> str:
    text = _trim(text.strip())
    return _cap(text[:1].upper() + text[1:] + ".")


# --- topics: what a preference is about ---------------------------------------------------------

_GENERIC = "_generic"  # head words naming a time slot or a choice, not its content: look further
_TOPIC_WORDS = {
    "milk": "milk oat oatmilk almond soy soya skim skimmed semi-skimmed lactose-free dairy leche avena "
            "almendra lait avoine amande milch hafer mandel",
    "drink": "coffee latte cappuccino espresso americano mocha macchiato flat-white tea chai decaf café "
             "té thé kaffee tee",
    "size": "small medium large tall grande venti regular pequeño mediano petit moyen klein mittel groß",
    "seat": "seat seating aisle window exit place asiento pasillo ventanilla ventana siège couloir hublot "
            "sitzplatz platz gang fenster",
    "room": "room suite floor bed king queen twin double non-smoking habitación cama chambre lit zimmer "
            "bett",
    "appointment time": "morning afternoon evening weekend weekday early monday tuesday wednesday "
                        "thursday friday saturday sunday mañana tarde matin après-midi soir vormittag "
                        "nachmittag abend",
    "diet": "diet vegetarian vegan pescatarian pescetarian halal kosher gluten-free keto dairy-free "
            "vegetariano vegano végétarien végétalien vegetarier veganer vegetarisch",
    "delivery": "delivery shipping pickup pick-up collection courier doorstep entrega envío domicilio "
                "livraison lieferung versand zustellung",
    "payment": "payment card cash paypal invoice visa mastercard amex debit credit cheque tarjeta "
               "efectivo pago carte espèces paiement karte bargeld zahlung überweisung lastschrift",
    "language": "english spanish french german español inglés francés alemán anglais espagnol français "
                "allemand englisch spanisch französisch deutsch",
    "sweetener": "sugar sweetener stevia honey syrup azúcar sucre zucker",
    "contact:channel": "email e-mail mail text message sms phone call called mobile cell cellphone "
                       "landline whatsapp voicemail correo teléfono móvil celular llamada llamar llamen "
                       "llámenme courriel téléphone portable appel appeler appelez anruf anrufen telefon "
                       "handy",
    _GENERIC: "appointment slot time option one kind type version cup glass mug cita hora rendez-vous "
              "créneau termin",
}
_JUNK = _wordset("it that this these those them one thing things stuff lot bit much way too so very more "
                 "less you him her idea fine ok okay please thanks anything something everything nothing "
                 "what how when where which who not kind type version option lo eso esto ça cela es")
_DETERMINERS = _wordset("a an the my their your some any el la los las un una unos unas mi le les une des "
                        "du mon ma mes der die das den dem ein eine einen einem kein keine keinen meine "
                        "meinen")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_STRONG_CUT = re.compile(r"\s*(?:[,;]|\b(?:instead|than|rather|because|but|unless|over|and|or|so|since|"
                         r"if|when|whenever|en vez|en lugar|porque|plutôt|au lieu|parce|statt|anstatt|"
                         r"anstelle|weil|aber|oder)\b)", _CI)
_PREP_CUT = re.compile(r"\s+(?:in|with|for|on|at|from|to|by|de|del|con|en|para|por|avec|pour|dans|sans|"
                       r"au|aux|du|des|mit|für|im|am|zum|zur|beim|please)\b|\s+d'", _CI)


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_LEXICON = {_fold(w): topic for topic, words in _TOPIC_WORDS.items() for w in words.split()}
_SUFFIXES = sorted(((w, t) for w, t in _LEXICON.items() if len(w) >= 4 and t != _GENERIC),
                   key=lambda item: -len(item[0]))  # German compounds: "Hafermilch", "Fensterplatz"


def _words(text: str) -> list[str]:
    words = (re.sub(r"^(?:d|l|j|qu)'", "", w) for w in _WORD.findall(text.lower()))
    return [w for w in words if w and w not in _DETERMINERS]


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _lookup(word: str) -> str | None:
    folded = _fold(word)
    for candidate in (folded, _singular(folded), folded.removesuffix("es")):
        if candidate in _LEXICON:
            return _LEXICON[candidate]
    if len(folded) >= 7:
        return next((topic for suffix, topic in _SUFFIXES if folded.endswith(suffix)), None)
    return None


def _scan(words: list[str]) -> str | None:
    return next((t for t in map(_lookup, words) if t and t != _GENERIC), None)


def _topic(obj: str, *, romance: bool = False) -> str | None:
    """'oat milk in their latte' -> 'milk'; 'an aisle one' -> 'seat'; 'cilantro' -> 'cilantro'."""
    main = _STRONG_CUT.split(obj, maxsplit=1)[0]
    words = _words(main)
    if not words:
        return None
    if {"contact:channel", "appointment time"} <= set(map(_lookup, words)):
        return "contact:time"  # "calls in the morning", "que me llamen por la tarde"
    if words[0] in ("to", "be"):  # "to sit by the window": the topic is further on
        return _scan(words[1:])
    head_words = _words(_PREP_CUT.split(main, maxsplit=1)[0]) or words
    head = head_words[0] if romance else head_words[-1]  # "leche de avena" vs "oat milk"
    topic = _lookup(head)
    if topic == _GENERIC:
        topic = _scan(words)
    if topic:
        return topic
    return None if head in _JUNK else _singular(head)


# --- preferences -------------------------------------------------------------------------------

class _Rule(NamedTuple):
    lang: str
    pattern: re.Pattern[str]  # has an `obj` group: what the preference is about
    template: str | None  # None: restate the matched clause in the third person
    topic: str | None  # None: from obj; "x:" prefix + topic from obj; "@what": from `what`; else fixed


def _rule(lang: str, pattern: str, template: str | None = None, topic: str | None = None) -> _Rule:
    return _Rule(lang, re.compile(pattern, _CI), template, topic)


_NO_LONGER = "Caller no longer wants {obj}"
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
_ASKING = _wordset("if whether do did does would should could can when why what")


def _preference(clause: str) -> Hit | None:
    later = _FROM_NOW_ON.search(clause)
    if later and (hit := _match_preference(later["rest"], _PREFERENCES + _WANTS)):
        return f"{hit[0].rstrip('.…')} from now on.", hit[1]
    return _match_preference(clause, _PREFERENCES)


def _match_preference(clause: str, rules: tuple[_Rule, ...]) -> Hit | None:
    for rule in rules:
        m = rule.pattern.search(clause)
        if not m or _asked(clause, m.start()) or _first_word(m["obj"]) in _JUNK:
            continue
        groups = {k: _trim(v) for k, v in m.groupdict().items() if v}
        topic = _preference_topic(rule.topic, groups, romance=rule.lang in ("es", "fr"))
        if not topic:
            continue
        if rule.template is None:
            text = _as_caller(clause[m.start():m.end()])
        else:  # only English keeps pronouns to swap; other languages are quoted as said
            values = {k: _third(v) if rule.lang == "en" else v for k, v in groups.items()}
            text = _sentence(rule.template.format(**values))
        return text, topic if topic.startswith("contact:") else f"preference:{topic}"
    return None


def _preference_topic(rule: str | None, groups: dict[str, str], *, romance: bool) -> str | None:
    obj_topic = _topic(groups.get("obj", ""), romance=romance)
    if rule is None:
        return obj_topic
    if rule == "@what":
        return _topic(groups.get("what", ""), romance=romance) or obj_topic
    if rule.endswith(":"):
        return f"{rule}{obj_topic}" if obj_topic else None
    return rule


def _asked(clause: str, start: int) -> bool:
    """'Do I like ...', 'if I prefer ...': a question or a condition, not a statement."""
    before = clause[:start].split()
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


def _contact(clause: str) -> Hit | None:
    if m := _BEST_WAY.search(clause):
        what = m["what"].lower()
        slot = "contact:time" if what == "time" else "contact:channel"
        return _sentence(f"The best {what} to reach the caller is {_third(_trim(m['rest']))}"), slot
    if m := _BE_CONTACTED.search(clause):
        return _as_caller(m.group(0)), "contact:time" if _TIME_HINT.search(m.group(0)) else "contact:channel"
    if m := _BEST_CHANNEL.search(clause):
        said = m.group(0)
        return _sentence(f"Caller says {said[:1].lower()}{said[1:]}"), "contact:channel"
    for pattern, negative in ((_DONT_CONTACT, True), (_CONTACT_ME, False)):
        if (m := pattern.search(clause)) and (hit := _contact_request(m, negative=negative)):
            return hit
    return None


def _contact_request(m: re.Match[str], *, negative: bool) -> Hit | None:
    """'call me back on my mobile', "don't call before 10", 'text me'; not 'call me Liz'."""
    verb = m["verb"].lower()
    rest = _trim(m["rest"].strip())
    back = ""
    if rest.lower().startswith("back"):
        back, rest = " back", rest[4:].lstrip(" ,")
    timed = bool(_TIME_HINT.search(rest))
    written = verb not in ("call", "ring", "phone", "reach", "contact")
    if not (timed or negative or _CHANNEL_REST.match(rest) or (written and not rest)):
        return None  # "call me Liz", "email me the receipt": no standing contact preference
    slot = "contact:time" if timed else "contact:channel"
    detail = f"{back} {_third(rest)}".rstrip()
    if negative:
        if rest and not timed and not _CHANNEL_REST.match(rest):
            return _sentence(f"Caller says: {_third(m.group(0).strip())}"), slot
        return _sentence(f"Caller asks not to be {_PARTICIPLE[verb]}{detail}"), slot
    lead = "can be" if verb in ("reach", "contact") else "wants to be"
    return _sentence(f"Caller {lead} {_PARTICIPLE[verb]}{detail}"), slot


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


def _reschedule(clause: str) -> Hit | None:
    """A plan that replaces an earlier one gets a slot so it supersedes it; other plans coexist."""
    if m := _RESCHEDULE.search(clause.rstrip(" .!?")):
        return _sentence(f"Caller asked to {_third(m.group(0))}"), f"plan:{_singular(m['what'].lower())}"
    if m := _MOVED.search(clause):
        return _as_caller(m.group(0)), f"plan:{_singular(m['what'].lower())}"
    return None


def _plan(clause: str) -> Hit | None:
    m = _PLAN.search(clause)
    if not m or _asked(clause, m.start()) or not _DATE_HINT.search(clause, m.end()):
        return None  # without a date it is talk ("I'll hold"), not a plan
    return _as_caller(clause[m.start():]), ""


# --- identifiers -------------------------------------------------------------------------------

_ID = r"(?P<id>(?=[A-Za-z0-9/-]*\d)[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*)(?![\w%-])"
_NOT_UNIT = (r"(?!\s*(?:weeks?|days?|months?|years?|hours?|minutes?|nights?|people|persons|guests|times|"
             r"items|dollars?|euros?|pounds?|percent|am|pm|o'clock)\b)")
_LINK = (r"(?P<link>(?:[\s,:#]{0,3}\b(?:is|was|it's|it is|es|era|est|c'est|ist|lautet|uh|um|er|erm|eh|"
         r"euh|äh|ähm|el|le|la)\b){0,4}[\s,:#]{0,3})")
_KINDS = (r"order|claim|booking|reservation|confirmation|ticket|case|account|policy|room|tracking|"
          r"reference|ref|invoice|membership|member|customer|incident|pedido|orden|reserva|reclamaci[óo]n|"
          r"siniestro|confirmaci[óo]n|caso|cuenta|p[óo]liza|habitaci[óo]n|seguimiento|referencia|factura|"
          r"cliente|socio|commande|r[ée]servation|sinistre|dossier|compte|police|contrat|chambre|suivi|"
          r"r[ée]f[ée]rence|facture|client|zimmer")
_ID_PATTERNS = tuple(re.compile(prefix + _LINK + _ID + _NOT_UNIT, _CI) for prefix in (
    (rf"\b(?P<kind>{_KINDS})(?P<noun>\s*#|\s+(?:number|num|nr|id|code|n[úu]mero|num[ée]ro|no\b\.?|"
     rf"n[º°]\.?)(?!\w))?"),
    rf"\b(?P<noun>n[úu]mero|num[ée]ro) (?:de |d'|du )(?:la |el |le |l')?(?P<kind>{_KINDS})",
    (r"\b(?P<kind>bestell|auftrags|buchungs|reservierungs|kunden|vertrags|policen|versicherungs|schadens?|"
     r"zimmer|sendungs|tracking|ticket|fall|vorgangs|konto|rechnungs|referenz|best[äa]tigungs|mitglieds)"
     r"(?P<noun>nummer|-?nr\.?)"),
))
_KIND_NAMES = {  # what each language calls it -> the slot's English kind
    "order": "pedido orden commande bestell auftrags",
    "claim": "reclamacion siniestro sinistre schaden schadens",
    "booking": "reserva buchungs", "reservation": "reservierungs",
    "confirmation": "confirmacion bestatigungs",
    "case": "caso dossier fall vorgangs", "account": "cuenta compte konto",
    "policy": "poliza police contrat vertrags policen versicherungs", "room": "habitacion chambre zimmer",
    "tracking": "seguimiento suivi sendungs", "reference": "ref referencia referenz",
    "invoice": "factura facture rechnungs", "member": "membership socio mitglieds",
    "customer": "cliente client kunden",
}
_KIND_EN = {word: kind for kind, words in _KIND_NAMES.items() for word in words.split()}


def _identifiers(clause: str) -> list[Hit]:
    """'my order number is A-48213' -> "Caller's order number is A-48213.", identifier kept verbatim."""
    out: list[Hit] = []
    seen: set[tuple[str, str]] = set()
    for pattern in _ID_PATTERNS:
        for m in pattern.finditer(clause):
            kind = _KIND_EN.get(_fold(m["kind"]), _fold(m["kind"]))
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
