"""Word lists for fact extraction: what a preference is about, and what an identifier is called.

Topics come from a small multilingual lexicon ("oat milk" -> milk, "Fensterplatz" -> seat) or fall back
to the object's head noun; identifier kinds in es/fr/de map to the English slot kind.
"""

from __future__ import annotations

import re
import unicodedata

from agentic_memory.domain.fact_text import wordset

_CI = re.IGNORECASE


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
JUNK = wordset("it that this these those them one thing things stuff lot bit much way too so very more "
               "less you him her idea fine ok okay please thanks anything something everything nothing "
               "what how when where which who not kind type version option lo eso esto ça cela es")
_DETERMINERS = wordset("a an the my their your some any el la los las un una unos unas mi le les une des "
                       "du mon ma mes der die das den dem ein eine einen einem kein keine keinen meine "
                       "meinen")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_STRONG_CUT = re.compile(r"\s*(?:[,;]|\b(?:instead|than|rather|because|but|unless|over|and|or|so|since|"
                         r"if|when|whenever|en vez|en lugar|porque|plutôt|au lieu|parce|statt|anstatt|"
                         r"anstelle|weil|aber|oder)\b)", _CI)
_PREP_CUT = re.compile(r"\s+(?:in|with|for|on|at|from|to|by|de|del|con|en|para|por|avec|pour|dans|sans|"
                       r"au|aux|du|des|mit|für|im|am|zum|zur|beim|please)\b|\s+d'", _CI)


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_LEXICON = {fold(w): topic for topic, words in _TOPIC_WORDS.items() for w in words.split()}
_SUFFIXES = sorted(((w, t) for w, t in _LEXICON.items() if len(w) >= 4 and t != _GENERIC),
                   key=lambda item: -len(item[0]))  # German compounds: "Hafermilch", "Fensterplatz"


def _words(text: str) -> list[str]:
    words = (re.sub(r"^(?:d|l|j|qu)'", "", w) for w in _WORD.findall(text.lower()))
    return [w for w in words if w and w not in _DETERMINERS]


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _lookup(word: str) -> str | None:
    folded = fold(word)
    for candidate in (folded, singular(folded), folded.removesuffix("es")):
        if candidate in _LEXICON:
            return _LEXICON[candidate]
    if len(folded) >= 7:
        return next((topic for suffix, topic in _SUFFIXES if folded.endswith(suffix)), None)
    return None


def _scan(words: list[str]) -> str | None:
    return next((t for t in map(_lookup, words) if t and t != _GENERIC), None)


def known_topic(text: str) -> str | None:
    """The first lexicon topic named anywhere in `text` ("schedule everything on Mondays" -> appointment
    time), or None: no head-noun guess, for rules that match a whole clause rather than an object."""
    return _scan(_words(text))


def topic_of(obj: str, *, romance: bool = False) -> str | None:
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
    return None if head in JUNK else singular(head)


# --- identifiers: what each kind of number is called ----------------------------------------

KINDS = (r"order|claim|booking|reservation|confirmation|ticket|case|account|policy|room|tracking|"
         r"reference|ref|invoice|membership|member|customer|incident|pedido|orden|reserva|reclamaci[óo]n|"
         r"siniestro|confirmaci[óo]n|caso|cuenta|p[óo]liza|habitaci[óo]n|seguimiento|referencia|factura|"
         r"cliente|socio|commande|r[ée]servation|sinistre|dossier|compte|police|contrat|chambre|suivi|"
         r"r[ée]f[ée]rence|facture|client|zimmer")
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
KIND_EN = {word: kind for kind, words in _KIND_NAMES.items() for word in words.split()}
