"""The routing table: which team serves a handed-off conversation (handoff/routing.yml).

The support team edits the file, as they edit the assistant's answers; the gateway reads it
once at start-up (`RoutingTable.load`) and refuses to start on a mistake, naming the key: an
unknown team, reason or topic, a missing default. A reason rule wins over a topic rule (a
complaint about a payment is a complaint); what no rule names goes to the default team.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from bot.faq_feedback import SELF_SERVICE_INTENTS
from bot.handoff_reasons import HandoffReason

DEFAULT_PATH = Path(__file__).resolve().parent / "routing.yml"
# Topics a rule may name: the self-service catalogue, and the intents that ask for a person.
KNOWN_TOPICS = SELF_SERVICE_INTENTS | {"contact_human_agent", "complaint"}
MAX_TEAM_NAME = 50


def load_table(path_setting: str = "") -> RoutingTable:
    """The table at ROUTING_TABLE_PATH (`path_setting`), or handoff/routing.yml when empty."""
    return RoutingTable.load(Path(path_setting) if path_setting else DEFAULT_PATH)


class RoutingTableError(ValueError):
    """The routing table cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Team:
    key: str  # stored with conversations and memberships: "payments"
    name: str  # what people see: "Payments"
    auto_assign: bool = True


@dataclass(frozen=True, slots=True)
class RoutingTable:
    teams: Mapping[str, Team]
    default_team: str
    reasons: Mapping[str, str]
    topics: Mapping[str, str]

    def team_for(self, *, reason: str | None, topic: str | None) -> str:
        """The team that serves a handoff for `reason` about `topic`."""
        if reason and reason in self.reasons:
            return self.reasons[reason]
        if topic and topic in self.topics:
            return self.topics[topic]
        return self.default_team

    def team(self, key: str | None) -> Team:
        """The team named `key`; the default team for a conversation from before teams."""
        return self.teams.get(key or self.default_team) or self.teams[self.default_team]

    def check_team(self, key: str) -> str:
        """`key` when it names a team of the table; else an error listing the teams."""
        if key not in self.teams:
            raise RoutingTableError(
                f"There is no team {key[:60]!r}; the teams are {', '.join(self.teams)}."
            )
        return key

    @property
    def auto_assigned(self) -> frozenset[str]:
        return frozenset(key for key, team in self.teams.items() if team.auto_assign)

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> RoutingTable:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise RoutingTableError(f"{path}: cannot be read ({error.strerror}).") from None
        except yaml.YAMLError as error:
            raise RoutingTableError(f"{path}: is not valid YAML ({error}).") from None
        try:
            return cls.parse(raw)
        except RoutingTableError as error:
            raise RoutingTableError(f"{path}: {error}") from None

    @classmethod
    def parse(cls, raw: Any) -> RoutingTable:
        """Check a table read from YAML; `RoutingTableError` names the first mistake."""
        if not isinstance(raw, dict):
            raise RoutingTableError("the file must be a mapping with teams, default_team, ...")
        unknown = set(raw) - {"teams", "default_team", "reasons", "topics"}
        if unknown:
            raise RoutingTableError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}.")
        teams = _teams(raw.get("teams"))
        default = raw.get("default_team")
        if default not in teams:
            raise RoutingTableError(
                f"default_team {default!r} is not one of the teams ({', '.join(teams)})."
            )
        reasons = _rules(raw.get("reasons"), "reasons", teams, {r.value for r in HandoffReason})
        topics = _rules(raw.get("topics"), "topics", teams, KNOWN_TOPICS)
        return cls(teams=teams, default_team=default, reasons=reasons, topics=topics)


def _teams(raw: Any) -> dict[str, Team]:
    if not isinstance(raw, dict) or not raw:
        raise RoutingTableError("teams: list at least one team.")
    teams: dict[str, Team] = {}
    for key, body in raw.items():
        if not isinstance(key, str) or not key.replace("_", "").isalnum() or not key.islower():
            raise RoutingTableError(
                f"teams: {key!r} is not a team key (lower-case letters, digits, _)."
            )
        if len(key) > MAX_TEAM_NAME:
            raise RoutingTableError(f"teams: {key!r} is longer than {MAX_TEAM_NAME} characters.")
        body = body or {}
        if not isinstance(body, dict) or set(body) - {"name", "auto_assign"}:
            raise RoutingTableError(f"teams.{key}: give only name and auto_assign.")
        auto = body.get("auto_assign", True)
        if not isinstance(auto, bool):
            raise RoutingTableError(f"teams.{key}.auto_assign: write true or false.")
        name = body.get("name", key.replace("_", " ").title())
        if not isinstance(name, str) or not name.strip():
            raise RoutingTableError(f"teams.{key}.name: give the name people see.")
        teams[key] = Team(key=key, name=name.strip(), auto_assign=auto)
    return teams


def _rules(
    raw: Any, where: str, teams: Mapping[str, Team], known: set[str] | frozenset[str]
) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RoutingTableError(f"{where}: write one `name: team` per line.")
    rules: dict[str, str] = {}
    for name, team in raw.items():
        if name not in known:
            raise RoutingTableError(
                f"{where}.{name}: unknown; known {where} are {', '.join(sorted(known))}."
            )
        if team not in teams:
            raise RoutingTableError(
                f"{where}.{name}: team {team!r} is not one of the teams ({', '.join(teams)})."
            )
        rules[name] = team
    return rules
