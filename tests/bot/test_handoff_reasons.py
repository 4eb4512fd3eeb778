"""The handoff reasons: one list (bot/handoff_reasons.py) the Rasa actions and the gateway share.

The actions run in Rasa's environment (rasa_sdk is not installed here), so they are read with
`ast`: every reason they can send must be a member, and every reason a button or the training
data puts in the `handoff_reason` slot must be one the action accepts.
"""

from __future__ import annotations

import ast
import re

from bot.assistant_model import PROJECT_ROOT
from bot.faq_feedback import CONNECT_PAYLOAD
from bot.handoff_reasons import HandoffReason
from bot.rasa_client import parse_turn

ACTIONS = PROJECT_ROOT / "actions" / "handoff.py"
SLOT_VALUE = re.compile(r'"handoff_reason"\s*:\s*"([^"]*)"')


def _tree() -> ast.Module:
    return ast.parse(ACTIONS.read_text())


def _reason_names(node: ast.AST) -> set[str]:
    """The `HandoffReason.X` names used anywhere under `node`."""
    return {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == "HandoffReason"
        and n.attr.isupper()  # members, not `HandoffReason.parse`
    }


def _assigned(name: str) -> ast.expr:
    """The value assigned to a module-level name of the actions module."""
    for node in _tree().body:
        targets = (
            [node.target]
            if isinstance(node, ast.AnnAssign)
            else node.targets
            if isinstance(node, ast.Assign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            assert isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
            return node.value
    raise AssertionError(f"{name} is not assigned in {ACTIONS}")


def test_every_reason_the_actions_can_send_is_in_the_list() -> None:
    tree = _tree()
    imports = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert ("bot.handoff_reasons", "HandoffReason") in imports
    used = _reason_names(tree)
    assert used, "the actions name no reason: the check below would pass on nothing"
    assert used <= set(HandoffReason.__members__)
    # Every (reason, priority, response) the action picks from names its reason by the list,
    # never as a bare string.
    choices = [
        n
        for name in ("HANDOFF_BY_INTENT", "DEFAULT_HANDOFF")
        for n in ast.walk(_assigned(name))
        if isinstance(n, ast.Tuple)
    ]
    assert len(choices) >= 2
    for choice in choices:
        assert _reason_names(choice.elts[0]), ast.unparse(choice)


def test_every_reason_a_button_gives_is_one_the_action_accepts() -> None:
    accepted = _reason_names(_assigned("BUTTON_REASONS"))
    given = {CONNECT_PAYLOAD}
    for path in [PROJECT_ROOT / "domain.yml", *(PROJECT_ROOT / "data").rglob("*.yml")]:
        given.update(SLOT_VALUE.findall(path.read_text()))
    values = {v for text in given for v in SLOT_VALUE.findall(text)} | {
        v for v in given if not v.startswith("/")
    }
    assert values, "no button gives a reason: the check below would pass on nothing"
    for value in values:
        reason = HandoffReason.parse(value)
        assert reason is not None, f"{value!r} is not a handoff reason"
        assert reason.name in accepted, f"the action ignores the button reason {value!r}"


def test_the_gateway_reads_an_unknown_reason_as_a_person_asked_for() -> None:
    def turn(reason: object) -> HandoffReason | None:
        body = {"messages": [{"custom": {"handoff": {"reason": reason, "priority": "high"}}}]}
        handoff = parse_turn(body).handoff
        return handoff.reason if handoff else None

    assert turn("complaint") is HandoffReason.COMPLAINT
    assert turn("complaint ") is HandoffReason.CUSTOMER_REQUEST  # a typo is no new reason
    assert turn(None) is HandoffReason.CUSTOMER_REQUEST
