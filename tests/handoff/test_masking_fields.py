"""Every free text a person writes is masked before it is stored: notes, wrap-ups, escalation
reasons and canned responses, not only replies. All of them reach the export or other reps."""

from __future__ import annotations

import csv
import io

from bot.messages import Channel
from bot.store.models import AuditEvent, CannedResponse, Note, Role, WrapUp
from tests.handoff.conftest import Desk

CARD = "4111 1111 1111 1111"
MASKED = "[card ending 1111]"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


async def test_notes_wrap_ups_escalations_and_canned_texts_are_masked(desk: Desk) -> None:
    await desk.rep("ann")
    await desk.rep("sue", Role.SUPERVISOR)
    ann, sue = await desk.auth("ann"), await desk.auth("sue")
    first = await desk.queued("masking-1", channel=Channel.SMS)
    second = await desk.queued("masking-2", channel=Channel.SMS)
    base = "/api/conversations"
    for conversation_id in (first, second):
        claimed = await desk.http.post(f"{base}/{conversation_id}/claim", headers=ann)
        assert claimed.status_code == 200, claimed.text
    note = await desk.http.post(
        f"{base}/{first}/notes", json={"text": f"card {CARD} 12/25 per customer"}, headers=ann
    )
    assert note.status_code == 201 and MASKED in note.json()["text"]
    escalated = await desk.http.post(
        f"{base}/{second}/escalate", json={"reason": f"charge on {CARD}"}, headers=ann
    )
    assert escalated.status_code == 200, escalated.text
    resolved = await desk.http.post(
        f"{base}/{first}/resolve",
        json={
            "nature_of_inquiry": "refund",
            "actions_taken": f"refunded card5500000000000004 and {CARD} 123",
            "follow_up_required": False,
        },
        headers=ann,
    )
    assert resolved.status_code == 200, resolved.text
    canned = await desk.http.post(
        "/api/canned-responses", json={"title": "card", "text": f"Is it {CARD}?"}, headers=sue
    )
    assert canned.status_code == 201, canned.text

    stored = [n.text for n in await desk.all(Note)]
    stored += [w.actions_taken for w in await desk.all(WrapUp)]
    stored += [e.reason for e in await desk.all(AuditEvent)]
    stored += [c.text for c in await desk.all(CannedResponse)]
    for text in stored:
        assert "4111111111111111" not in _digits(text), text
        assert "5500000000000004" not in _digits(text), text
    assert any(MASKED in text for text in stored)
    exported = await desk.http.get("/api/export", params={"format": "csv"}, headers=sue)
    assert "4111111111111111" not in _digits(exported.text)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert any(MASKED in row["actions_taken"] for row in rows)
