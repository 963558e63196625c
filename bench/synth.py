"""Synthetic callers and calls: varied names, preferences, order numbers and appointments in en/es/fr/de.

Deterministic per (seed, index), so a caller's phone number, order number and call script can be rebuilt
anywhere (the load generator, the ingest check, the bulk loader) without passing data around.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LANGUAGES = ("en", "en", "en", "es", "fr", "de")  # English-heavy, like most deployments

FIRST = {
    "en": ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Amelia", "William", "Harper", "Lucas", "Evelyn", "Mason", "Priya", "Omar", "Chloe", "Ethan", "Grace", "Daniel", "Zoe", "Samuel", "Nora", "Henry", "Aisha", "Leo", "Hannah", "Isaac", "Ruby", "Caleb", "Maya", "Owen"],
    "es": ["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo", "Valeria", "Daniel", "Paula", "Alejandro", "Carmen", "Pablo", "Elena", "Diego", "Julia", "Javier", "Marta", "Sergio", "Alba", "Álvaro"],
    "fr": ["Camille", "Louis", "Léa", "Gabriel", "Manon", "Jules", "Chloé", "Arthur", "Inès", "Raphaël", "Juliette", "Hugo", "Emma", "Lucas", "Sarah", "Nathan", "Zoé", "Théo", "Clara", "Antoine"],
    "de": ["Mia", "Ben", "Emilia", "Paul", "Hanna", "Leon", "Lena", "Finn", "Marie", "Jonas", "Sophie", "Elias", "Lina", "Felix", "Clara", "Max", "Anna", "Lukas", "Laura", "Moritz"],
}
LAST = {
    "en": ["Smith", "Johnson", "Patel", "Nguyen", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Anderson", "Okafor", "Kim", "Murphy", "Walker", "Chen"],
    "es": ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Fernández", "Ruiz", "Díaz", "Moreno"],
    "fr": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"],
}
COUNTRY = {"en": ("+1", 10), "es": ("+34", 9), "fr": ("+33", 9), "de": ("+49", 11)}
PREFIX = {"en": "41", "es": "6", "fr": "6", "de": "151"}

EN_ITEMS = ["a large oat milk latte", "two bags of house decaf", "the walnut desk lamp", "a pair of trail running shoes",
            "the blue linen duvet cover", "a cast iron skillet", "the noise-cancelling headphones",
            "a dozen gluten-free bagels", "the standing desk frame", "a birthday cake for twelve"]
EN_PREFS = ["oat milk", "window seats", "morning appointments", "paper receipts", "the quiet room upstairs",
            "decaf after noon", "aisle seats", "delivery to the back door", "vegetarian options", "a female doctor"]
ALLERGENS = {"en": ["peanuts", "shellfish", "penicillin", "hazelnuts", "gluten", "latex", "sesame"],
             "es": ["los cacahuetes", "el marisco", "la penicilina", "el gluten", "las nueces"],
             "fr": ["l'arachide", "la pénicilline", "la noisette", "au gluten", "au sésame"],
             "de": ["Erdnüsse", "Penicillin", "Haselnüsse", "Gluten", "Sesam"]}
DAYS = {"en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
        "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado"],
        "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
        "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"]}
CITIES = ["Oakland", "Austin", "Leeds", "Denver", "Portland", "Madrid", "Lyon", "Hamburg", "Boston", "Seville"]
TIMES = ["9 am", "10:30 am", "noon", "2 pm", "3:15 pm", "4 pm", "5:30 pm"]
PREFS = {"es": ["el asiento de ventanilla", "las citas por la mañana", "la leche de avena", "el recibo en papel"],
         "fr": ["le lait d'avoine", "les rendez-vous le matin", "une place côté fenêtre", "la livraison le soir"],
         "de": ["Hafermilch", "Termine am Vormittag", "einen Fensterplatz", "die Lieferung an die Hintertür"]}

QUERIES = ["what was my order number?", "when is my appointment?", "what am I allergic to?",
           "how do I like to be contacted?", "what did I order last time?", "do you remember my preferences?",
           "what time did we book?", "which store was it?", "what did we talk about last call?",
           "did I ask you to text me?", "cuál es mi número de pedido?", "quel est mon numéro de commande ?",
           "wann ist mein Termin?", "what's the tracking number for my delivery?", "what seat do I prefer?",
           "remind me what milk I take", "did I mention any allergies?", "when did I last call?"]


@dataclass(frozen=True, slots=True)
class Caller:
    index: int
    phone: str
    language: str
    first_name: str
    last_name: str
    order_no: str
    item: str
    preference: str
    allergen: str
    day: str
    day2: str
    time: str
    city: str


def caller(index: int, seed: int = 7) -> Caller:
    rng = random.Random(seed * 1_000_003 + index)
    lang = rng.choice(LANGUAGES)
    code, digits = COUNTRY[lang]
    prefix = PREFIX[lang]
    phone = code + prefix + str(index).rjust(digits - len(prefix), "0")
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    order = f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randrange(10000, 99999)}"
    return Caller(index=index, phone=phone, language=lang, first_name=rng.choice(FIRST[lang]),
                  last_name=rng.choice(LAST[lang]), order_no=order, item=rng.choice(EN_ITEMS),
                  preference=rng.choice(PREFS.get(lang, EN_PREFS)), allergen=rng.choice(ALLERGENS[lang]),
                  day=rng.choice(DAYS[lang]), day2=rng.choice(DAYS[lang]), time=rng.choice(TIMES),
                  city=rng.choice(CITIES))


def _script(c: Caller) -> list[tuple[str, str]]:
    n = f"{c.first_name} {c.last_name}"
    if c.language == "es":
        return [("agent", "Gracias por llamar, le atiende Marta. ¿En qué puedo ayudarle?"),
                ("user", f"Hola, soy {n}. Llamo por mi pedido."), ("agent", f"Claro, {c.first_name}. ¿Tiene el número?"),
                ("user", f"Sí, mi número de pedido es {c.order_no}."), ("agent", "Gracias, ya lo veo. ¿Qué necesita?"),
                ("user", f"Quiero cambiar la entrega al {c.day} por la tarde."), ("agent", f"Perfecto, el {c.day}."),
                ("user", f"Prefiero {c.preference}."), ("agent", "Lo anoto en su ficha."),
                ("user", f"Soy alérgica a {c.allergen}, por favor que conste."), ("agent", "Anotado, gracias."),
                ("user", "Mándeme un mensaje cuando salga, no me llame."), ("agent", "De acuerdo, le enviaremos un SMS."),
                ("user", f"También quiero una cita el {c.day2} a las {c.time} en la tienda de {c.city}."),
                ("agent", f"Cita confirmada el {c.day2} a las {c.time}."), ("user", "¿Me la puede confirmar por SMS?"),
                ("agent", "Sí, ahora mismo."), ("user", "Perfecto."), ("agent", "¿Algo más?"),
                ("user", "Nada más, gracias. Adiós.")]
    if c.language == "fr":
        return [("agent", "Merci de votre appel, ici Claire. Comment puis-je vous aider ?"),
                ("user", f"Bonjour, c'est {n}. J'appelle pour ma commande."),
                ("agent", f"Bien sûr, {c.first_name}. Vous avez le numéro ?"),
                ("user", f"Oui, mon numéro de commande est {c.order_no}."), ("agent", "Merci, je la vois."),
                ("user", f"Je voudrais déplacer la livraison à {c.day} après-midi."), ("agent", f"D'accord, {c.day}."),
                ("user", f"Je préfère {c.preference}."), ("agent", "C'est noté dans votre dossier."),
                ("user", f"Je suis allergique à {c.allergen}, notez-le s'il vous plaît."), ("agent", "C'est noté."),
                ("user", "Envoyez-moi un SMS quand elle part, pas d'appel."), ("agent", "Entendu."),
                ("user", f"Je voudrais aussi un rendez-vous {c.day2} à {c.time} au magasin de {c.city}."),
                ("agent", f"Rendez-vous confirmé {c.day2} à {c.time}."), ("user", "Merci beaucoup."),
                ("agent", "Autre chose ?"), ("user", "Non, c'est tout."), ("agent", "Bonne journée !"),
                ("user", "Au revoir.")]
    if c.language == "de":
        return [("agent", "Danke für Ihren Anruf, hier ist Jana. Wie kann ich helfen?"),
                ("user", f"Hallo, hier ist {n}. Ich rufe wegen meiner Bestellung an."),
                ("agent", f"Gerne, {c.first_name}. Haben Sie die Nummer?"),
                ("user", f"Ja, meine Bestellnummer ist {c.order_no}."), ("agent", "Danke, ich sehe sie."),
                ("user", f"Ich möchte die Lieferung auf {c.day} Nachmittag verschieben."), ("agent", f"Gut, {c.day}."),
                ("user", f"Ich bevorzuge {c.preference}."), ("agent", "Das notiere ich."),
                ("user", f"Ich bin allergisch gegen {c.allergen}, bitte vermerken."), ("agent", "Ist vermerkt."),
                ("user", "Schicken Sie mir bitte eine SMS, keinen Anruf."), ("agent", "Machen wir."),
                ("user", f"Ich brauche auch einen Termin am {c.day2} um {c.time} in der Filiale {c.city}."),
                ("agent", f"Termin am {c.day2} um {c.time} ist bestätigt."), ("user", "Super, danke."),
                ("agent", "Noch etwas?"), ("user", "Nein, das war alles."), ("agent", "Schönen Tag noch!"),
                ("user", "Tschüss.")]
    return [("agent", "Thanks for calling, this is Maya. How can I help?"),
            ("user", f"Hi, this is {n}. I'm calling about my order."),
            ("agent", f"Sure, {c.first_name}. Do you have the order number?"),
            ("user", f"Yes, my order number is {c.order_no}."),
            ("agent", f"Thanks. I see {c.item}. What can I do for you?"),
            ("user", f"I'd like to move the delivery to {c.day} afternoon."),
            ("agent", f"{c.day} works. Any time window?"), ("user", f"Anytime after {c.time} is fine."),
            ("agent", "Done. Anything else?"), ("user", f"I prefer {c.preference}, if you can note that."),
            ("agent", "Noted on your file."), ("user", f"And I'm allergic to {c.allergen}, please flag it."),
            ("agent", "Flagged."), ("user", "Please text me when it ships, not a phone call."),
            ("agent", "Will do."), ("user", f"I also need an appointment on {c.day2} at {c.time} at the {c.city} store."),
            ("agent", f"You're booked for {c.day2} at {c.time} in {c.city}."), ("user", "Perfect, thanks."),
            ("agent", "Anything else today?"), ("user", "No, that's all. Bye!")]


def call_turns(c: Caller, n_turns: int = 20) -> list[tuple[str, str]]:
    """The caller's call script, cut to `n_turns` turns (20 is the full call)."""
    return _script(c)[:n_turns]


def summary(c: Caller) -> str:
    return (f"{c.first_name} called about order {c.order_no}, moved the delivery to {c.day}, prefers "
            f"{c.preference}, is allergic to {c.allergen} and booked an appointment on {c.day2} at {c.time} "
            f"in {c.city}.")


def query_for(c: Caller) -> tuple[str, str]:
    """A question whose answer is a fact of this caller's call, and the string that proves it came back."""
    return {"es": "¿cuál es mi número de pedido?", "fr": "quel est mon numéro de commande ?",
            "de": "wie ist meine Bestellnummer?"}.get(c.language, "what was my order number?"), c.order_no
