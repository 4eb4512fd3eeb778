"""What customer-facing texts promise: the teams, times and fees they name, and what backs them.

Customers take what the assistant says as the company's word, so a text may name only what
exists: a team that answers them, a time the configuration sets, a fee the platform shows.
`find_promises` finds such words in a text (in each language the assistant speaks);
`tests/test_promises.py` lists every customer-facing text that names one and checks each
against what is declared here. The rules:

- **Teams:** the only team is the one behind the human queue (reps, and supervisors for
  escalations): `SUPPORT_TEAM`, by the words each language calls it. A text naming any other
  team ("our payments team") names something that does not exist.
- **Times:** only the gateway knows the configuration, so only its texts state a time, and
  they take it from RESPONSE_PROMISE_HOURS. The assistant's answers (data/, domain.yml) state
  none: Rasa cannot read the setting, and a number written there goes stale when it changes.
- **Fees:** this product configures no fee and no price, so no text states an amount; a text
  may mention a fee only by pointing to where the platform shows it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.store.models import Role


class PromiseKind(enum.StrEnum):
    TEAM = "team"
    TIME = "time"
    FEE = "fee"


@dataclass(frozen=True, slots=True)
class Promise:
    kind: PromiseKind
    words: str  # as found in the text, lower case


# The team customers are told of, per language, and who is in it (the roles that answer the
# human queue). Each phrase is the whole way a text may name it.
SUPPORT_TEAM: dict[str, tuple[str, ...]] = {
    "en": ("our support team", "our team"),
    "es": ("nuestro equipo de soporte", "nuestro equipo"),
    "fr": ("notre équipe d'assistance", "notre équipe"),
    "nl": ("ons supportteam", "ons team"),
    "ht": ("ekip sipò nou an", "ekip nou an"),
}
SUPPORT_TEAM_ROLES = (Role.REP, Role.SUPERVISOR)

_TEAM = re.compile(r"\b(?:\w+\s+){0,2}\w*(?:team|equipo|équipe|ekip)\b(?:\s+[\w'ò]+){0,3}", re.I)
_TIME = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:-\s*\d+\s*)?"
    r"(?:hours?|hrs?|h|days?|business days?|working days?|minutes?|mins?|weeks?|months?"
    r"|horas?|d[ií]as?|minutos?|semanas?"
    r"|heures?|jours?|semaines?"
    r"|uur|uren|dagen|dag|minuten|weken"
    r"|èdtan|jou|minit|semèn)\b"
    r"|\b24/7\b",
    re.I,
)
_AMOUNT = re.compile(
    r"(?:[$€£]\s*\d)|\b\d+(?:[.,]\d+)?\s*(?:usd|eur|jmd|ttd|bbd|xcd|awg|ang|htg|dollars?)\b",
    re.I,
)
_FEE = re.compile(
    r"\b(?:fees?|charges?|charged|penalt(?:y|ies)|surcharge|cargos?|tarifas?|comisi[oó]n"
    r"|frais|pénalités?|kosten|annuleringskosten|boete|frè)\b",
    re.I,
)


def find_promises(text: str) -> list[Promise]:
    """The teams, times, amounts and fees `text` names, in order of kind then position."""
    found = [Promise(PromiseKind.TEAM, m.group(0).lower()) for m in _TEAM.finditer(text)]
    found += [Promise(PromiseKind.TIME, m.group(0).lower()) for m in _TIME.finditer(text)]
    found += [Promise(PromiseKind.FEE, m.group(0).lower()) for m in _AMOUNT.finditer(text)]
    found += [Promise(PromiseKind.FEE, m.group(0).lower()) for m in _FEE.finditer(text)]
    return found


def names_support_team(words: str, language: str) -> bool:
    """The team words found are the support team's name in `language`, nothing else."""
    return any(phrase in words for phrase in SUPPORT_TEAM.get(language, ()))


def states_an_amount(text: str) -> bool:
    return _AMOUNT.search(text) is not None
