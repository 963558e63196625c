"""Relative dates ("tomorrow", "next Tuesday", "in two weeks") resolved against the call's own date.

A fact kept from a call months ago must not say "next Tuesday" as if it were still ahead: `resolve`
writes the calendar date beside the words ("next Tuesday (Tue 20 Jan 2026)"), and `mentioned` lists the
dates a text refers to as keyword words ("January 20 2026 Tuesday"), so a question naming the date finds
the turn that said "next Tuesday". English, Spanish, French and German; unknown phrases are left alone.
A day of the month said right after a weekday ("next Tuesday, the 19th") decides between candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

_WEEKDAYS = {
    0: "monday lunes lundi montag", 1: "tuesday martes mardi dienstag", 2: "wednesday miércoles miercoles mercredi mittwoch",
    3: "thursday jueves jeudi donnerstag", 4: "friday viernes vendredi freitag", 5: "saturday sábado sabado samedi samstag",
    6: "sunday domingo dimanche sonntag",
}
_DAY = {word: n for n, words in _WEEKDAYS.items() for word in words.split()}
_DAY_WORDS = "|".join(sorted(_DAY, key=len, reverse=True))
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3}
_COUNT = r"(?P<n>\d{1,2}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few)"
_OFFSETS = {  # word -> days from the call
    "today": 0, "tonight": 0, "hoy": 0, "aujourd'hui": 0, "heute": 0,
    "tomorrow": 1, "demain": 1, "morgen": 1, "pasado mañana": 2, "après-demain": 2, "übermorgen": 2,
    "yesterday": -1, "ayer": -1, "gestern": -1, "day after tomorrow": 2,
}
_OFFSET_WORDS = "|".join(re.escape(w) for w in sorted(_OFFSETS, key=len, reverse=True))
_PATTERN = re.compile(
    rf"(?P<offset>\b(?:the )?(?:{_OFFSET_WORDS})\b)"
    rf"|(?P<manana>(?<!la )(?<!por )\bmañana\b(?! por))"
    rf"|(?P<rel>\b(?:(?P<which>this|next|last|coming|este|el próximo|el proximo|próximo|proximo|"
    rf"ce|prochain|dernier|diesen|nächsten|letzten|am) )?(?P<day>{_DAY_WORDS})\b(?: (?P<after>prochain|dernier|que viene))?"
    rf"(?:,? (?:the |el |le |den )?(?P<dom>\d{{1,2}})(?:st|nd|rd|th|\.)?\b)?)"
    rf"|(?P<span>\bin {_COUNT} (?P<unit>days?|weeks?)\b|\b{_COUNT.replace('<n>', '<n2>')} (?P<unit2>days?|weeks?) ago\b)",
    re.IGNORECASE)


def _dates(text: str, when: datetime) -> Iterator[tuple[re.Match[str], date]]:
    today = when.date()
    for m in _PATTERN.finditer(text):
        if m["offset"]:
            word = m["offset"].lower().removeprefix("the ")
            if word == "morgen" and m["offset"][0].isupper():
                continue  # "Morgen" is the morning; "morgen" is tomorrow
            yield m, today + timedelta(days=_OFFSETS[word])
        elif m["manana"]:
            yield m, today + timedelta(days=1)
        elif m["rel"]:
            if (found := _weekday(m, today)) is not None:
                yield m, found
        else:
            count = (m["n"] or m["n2"] or "").lower()
            n = int(count) if count.isdigit() else _NUMBERS.get(count.removeprefix("a ").strip(), 1)
            unit = (m["unit"] or m["unit2"] or "").lower()
            days = n * (7 if unit.startswith("week") else 1)
            yield m, today + timedelta(days=days if m["unit"] else -days)


def _weekday(m: re.Match[str], today: date) -> date | None:
    target = _DAY[m["day"].lower()]
    which = (m["which"] or m["after"] or "").lower()
    past = which in ("last", "dernier", "letzten")
    candidates = [today + timedelta(days=d) for d in (range(-13, 1) if past else range(14))]
    candidates = [c for c in candidates if c.weekday() == target]
    if m["dom"]:
        exact = [c for c in candidates if c.day == int(m["dom"])]
        return exact[0] if exact else None  # a weekday and a day that disagree: leave it as said
    if not which and not m["dom"]:
        return None  # a bare "Tuesday" is often a habit ("on Tuesdays"), not one date
    if past:
        return [c for c in candidates if c < today][-1]
    ahead = [c for c in candidates if c > today]
    return ahead[0] if ahead else None


def resolve(text: str, when: datetime) -> str:
    """'see you next Tuesday' said on 2026-01-14 -> 'see you next Tuesday (Tue 20 Jan 2026)'."""
    out, last = [], 0
    for m, day in _dates(text, when):
        out += [text[last:m.end()], f" ({day:%a %-d %b %Y})"]
        last = m.end()
    return "".join(out) + text[last:] if out else text


def mentioned(text: str, when: datetime) -> str:
    """The dates `text` refers to, as index words: 'January 20 2026 Tuesday 20th'."""
    seen: dict[date, None] = {}
    for _, day in _dates(text, when):
        seen.setdefault(day, None)
    return " ".join(f"{d:%B} {d.day} {d.year} {d:%A} {d.day}{_suffix(d.day)}" for d in seen)


def _suffix(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
