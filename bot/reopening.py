"""When a closed team is back, as the customer reads it: "Monday 4 January at 08:00 (Jamaica
time)", in the customer's language (the `reopening` text of locales/system_texts.yml)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot import system_texts
from bot.system_texts import TextKey

# Day and month names for the reopening's text, by the language it is written in.
_WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "ht": ("lendi", "madi", "mèkredi", "jedi", "vandredi", "samdi", "dimanch"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}
_MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio",
        "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "ht": (
        "janvye", "fevriye", "mas", "avril", "me", "jen",
        "jiyè", "out", "septanm", "oktòb", "novanm", "desanm",
    ),
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni",
        "juli", "augustus", "september", "oktober", "november", "december",
    ),
}  # fmt: skip


def describe_opening(at: datetime, language: str | None = None) -> str:
    """'Monday 4 January at 08:00 (Jamaica time)': a reopening as customers read it, in the
    language system texts go out in for `language` (bot.system_texts)."""
    zone = at.tzinfo
    place = "UTC"
    if isinstance(zone, ZoneInfo) and zone.key != "UTC":
        place = zone.key.rsplit("/", 1)[-1].replace("_", " ")
    written = system_texts.answering_language(language).value
    return system_texts.text(
        TextKey.REOPENING,
        written,
        weekday=_WEEKDAYS[written][at.weekday()],
        day=at.day,
        month=_MONTHS[written][at.month - 1],
        time=f"{at:%H:%M}",
        place=place,
    )
