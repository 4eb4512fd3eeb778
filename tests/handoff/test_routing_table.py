"""The routing table (handoff/routing.yml): which team serves a handoff, and its checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import socketio

from bot.escalation import request_handoff
from bot.handoff_reasons import HandoffReason
from bot.policy import ResponseTargets
from bot.store.models import Conversation, ConversationState, utcnow
from gateway.services import build_services
from handoff.routing import DEFAULT_PATH, RoutingTable, RoutingTableError
from tests.conftest import make_settings

TABLE = RoutingTable.load(DEFAULT_PATH)


def _raw(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "teams": {"general": {"name": "General"}, "payments": {"auto_assign": False}},
        "default_team": "general",
        "reasons": {"complaint": "general"},
        "topics": {"get_refund": "payments"},
    }
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("reason", "topic", "team"),
    [
        ("complaint", "payment_issue", "general"),  # a reason rule wins over a topic rule
        ("payment_dispute", None, "payments"),
        ("account_compromised", None, "accounts"),
        ("customer_request", "payment_issue", "payments"),
        ("customer_request", "get_refund", "payments"),
        ("customer_request", "track_refund", "payments"),
        ("customer_request", "check_refund_policy", "payments"),
        ("customer_request", "recover_password", "accounts"),
        ("repeated_fallback", "edit_account", "accounts"),
        ("customer_request", "track_order", "general"),  # no rule: the default team
        ("customer_request", None, "general"),
        ("assistant_unavailable", None, "general"),
    ],
)
def test_the_shipped_table_routes_as_the_support_policy_says(
    reason: str, topic: str | None, team: str
) -> None:
    assert TABLE.team_for(reason=reason, topic=topic) == team


def test_the_shipped_table_has_the_four_teams_all_auto_assigned() -> None:
    assert list(TABLE.teams) == ["general", "payments", "technical", "accounts"]
    assert TABLE.auto_assigned == {"general", "payments", "technical", "accounts"}
    assert TABLE.default_team == "general"


def test_a_team_may_leave_auto_assignment_off() -> None:
    table = RoutingTable.parse(_raw())
    assert table.auto_assigned == {"general"}
    assert table.teams["payments"].name == "Payments"  # a name made from the key when left out
    assert table.team(None).key == "general"  # conversations from before teams
    assert table.team("gone").key == "general"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"teams": {}}, "teams: list at least one team"),
        ({"teams": {"Pay Ments": {}}}, "is not a team key"),
        ({"teams": {"general": {"colour": "red"}}}, "teams.general: give only name"),
        ({"teams": {"general": {"auto_assign": "yes"}}}, "teams.general.auto_assign"),
        ({"default_team": "sales"}, "default_team 'sales' is not one of the teams"),
        ({"reasons": {"angry": "general"}}, "reasons.angry: unknown"),
        ({"reasons": {"complaint": "sales"}}, "reasons.complaint: team 'sales'"),
        ({"topics": {"weather": "general"}}, "topics.weather: unknown"),
        ({"topics": {"get_refund": "refunds"}}, "topics.get_refund: team 'refunds'"),
        ({"topics": ["get_refund"]}, "topics: write one `name: team` per line"),
        ({"routes": {}}, "unknown key(s) routes"),
    ],
)
def test_mistakes_are_refused_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(RoutingTableError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RoutingTable.parse(_raw(**changes))


def test_a_file_that_is_not_yaml_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "routing.yml"
    path.write_text("teams: [general\n", encoding="utf-8")
    with pytest.raises(RoutingTableError, match=f"{path}: is not valid YAML"):
        RoutingTable.load(path)
    with pytest.raises(RoutingTableError, match="cannot be read"):
        RoutingTable.load(tmp_path / "missing.yml")


def test_the_gateway_refuses_to_start_on_a_wrong_table(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "routing.yml"
    path.write_text("teams:\n  general: {}\ndefault_team: sales\n", encoding="utf-8")
    settings = make_settings(sqlite_url, ROUTING_TABLE_PATH=str(path))
    with pytest.raises(RoutingTableError, match="default_team 'sales'"):
        build_services(settings, socketio.AsyncServer(async_mode="asgi"))


async def test_a_handoff_gets_its_team_from_the_table() -> None:
    conversation = Conversation(id=1, nature_of_inquiry="get_refund", state=ConversationState.BOT)

    class Session:
        def add(self, _: object) -> None:
            pass

    request_handoff(
        Session(),  # type: ignore[arg-type]
        conversation,
        reason=HandoffReason.CUSTOMER_REQUEST,
        priority="normal",
        context={"intent": "contact_human_agent"},
        actor="bot",
        now=utcnow(),
        promise_hours=24,
        targets=ResponseTargets.defaults(),
        choose_team=TABLE.team_for,
    )
    assert conversation.team == "payments"
