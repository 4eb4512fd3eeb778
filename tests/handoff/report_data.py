"""A small, known data set for reports and export, with the figures worked out by hand.

Range 1-3 March 2026 (UTC). Five conversations inside it, one before it:
- C1 webchat: the customer writes on 1 and 2 March; no person needed; said "track_order" helped.
- C2 sms, 1 March 10:00: customer_request, normal (24 h window); ann answers after 30 min and
  resolves; follow-up owned by ann due 4 March (overdue); rated 5.
- C3 whatsapp, 2 March 08:00: complaint, high (4 h); bob answers after 5 h (late, but within
  the 24-hour promise); follow-up owned by bob due 2099 (open, on time); rated 2.
- C4 telegram, 3 March 09:00: payment_dispute, urgent (1 h); never answered; "get_refund" did
  not help.
- C5 webchat, 3 March 12:00: customer_request, normal; ann answers after 30 h; rated 4.
- Languages: C1 and C3 English, C2 Spanish, C4 Haitian Creole, C5 undecided, C6 French.
- C6 webchat, February: outside the range (a handoff and a rating the reports must not count).

The clocks (every hour counting here; tests/bot/test_business_hours.py checks business time):
each handoff has its first-response window as above and a 40-hour resolution target.
Next responses: C2's customer writes at 10:45 after ann's reply, answered 11:15 (4 h target:
met, 30 min); C3's at 13:30, answered 18:00 (missed, 4.5 h); C5's at 4 March 18:02, resolved
at 18:05 with no reply (closed, counted neither way). Resolution: C2, C3 and C5 met (35 min,
5 h 5 min, 30 h 5 min), C4 unresolved past its due time at NOW (missed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel, Direction, SenderKind
from bot.store.models import (
    Contact,
    Conversation,
    ConversationState,
    FaqFeedback,
    Handoff,
    Message,
    Priority,
    Rating,
    RatingStatus,
    Rep,
    ResponseKind,
    ResponseWindow,
    Role,
    WrapUp,
)
from tests.handoff.factories import make_rep

START, END = date(2026, 3, 1), date(2026, 3, 3)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime.fromisoformat(f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+00:00")


@dataclass
class Known:
    reps: dict[str, Rep]
    conversations: dict[str, int]  # "C1" -> id


async def seed_known(sessions: async_sessionmaker[AsyncSession]) -> Known:
    async with sessions() as session:
        reps = {
            "ann": await make_rep(session, "ann"),
            "bob": await make_rep(session, "bob"),
            "sue": await make_rep(session, "sue", Role.SUPERVISOR),
        }
    ids: dict[str, int] = {}
    async with sessions() as session, session.begin():
        seed = _Seed(session, reps)
        ids["C1"] = await seed.conversation(
            "C1", Channel.WEBCHAT, [at(1, 9), at(1, 9, 5), at(2, 15)], language="en"
        )
        session.add(
            FaqFeedback(
                conversation_id=ids["C1"],
                intent="track_order",
                helpful=True,
                created_at=at(1, 9, 6),
            )
        )
        ids["C2"] = await seed.conversation(
            "C2", Channel.SMS, [at(1, 10)], state=ConversationState.RESOLVED, language="es"
        )
        await seed.handoff(
            ids["C2"],
            at(1, 10),
            "customer_request",
            Priority.NORMAL,
            answered_by="ann",
            after=timedelta(minutes=30),
            resolved=True,
            follow_up_due=date(2026, 3, 4),
            score=5,
        )
        ids["C3"] = await seed.conversation(
            "C3", Channel.WHATSAPP, [at(2, 8)], state=ConversationState.RESOLVED, language="en"
        )
        await seed.handoff(
            ids["C3"],
            at(2, 8),
            "complaint",
            Priority.HIGH,
            answered_by="bob",
            after=timedelta(hours=5),
            resolved=True,
            follow_up_due=date(2099, 1, 1),
            score=2,
        )
        ids["C4"] = await seed.conversation(
            "C4", Channel.TELEGRAM, [at(3, 9)], state=ConversationState.QUEUED, language="ht"
        )
        await seed.handoff(ids["C4"], at(3, 9), "payment_dispute", Priority.URGENT)
        session.add(
            FaqFeedback(
                conversation_id=ids["C4"],
                intent="get_refund",
                helpful=False,
                created_at=at(3, 8, 59),
            )
        )
        ids["C5"] = await seed.conversation(
            "C5", Channel.WEBCHAT, [at(3, 12)], state=ConversationState.RESOLVED
        )
        await seed.handoff(
            ids["C5"],
            at(3, 12),
            "customer_request",
            Priority.NORMAL,
            answered_by="ann",
            after=timedelta(hours=30),
            resolved=True,
            score=4,
        )
        await seed.next_window(ids["C2"], at(1, 10, 45), answered=at(1, 11, 15))
        await seed.next_window(ids["C3"], at(2, 13, 30), answered=at(2, 18))
        await seed.next_window(ids["C5"], at(4, 18, 2), answered=None)
        ids["C6"] = await seed.conversation(
            "C6",
            Channel.WEBCHAT,
            [at(27, 10, month=2)],
            state=ConversationState.RESOLVED,
            language="fr",
        )
        await seed.handoff(
            ids["C6"],
            at(27, 10, month=2),
            "complaint",
            Priority.HIGH,
            answered_by="bob",
            after=timedelta(hours=1),
            resolved=True,
            score=1,
        )
    return Known(reps, ids)


@dataclass
class _Seed:
    session: AsyncSession
    reps: dict[str, Rep]
    _records: dict[int, Handoff] = field(default_factory=dict)

    async def next_window(
        self, conversation_id: int, opened: datetime, *, answered: datetime | None
    ) -> None:
        """A next-response window of the conversation's handoff, with the 4-hour target."""
        record = self._records[conversation_id]
        self.session.add(
            ResponseWindow(
                handoff_id=record.id,
                conversation_id=conversation_id,
                kind=ResponseKind.NEXT,
                opened_at=opened,
                due_at=opened + timedelta(hours=4),
                at_risk_after=opened + timedelta(hours=3),
                answered_at=answered,
                business_seconds=(answered - opened).total_seconds() if answered else None,
            )
        )

    async def conversation(
        self,
        name: str,
        channel: Channel,
        customer_writes: list[datetime],
        state: ConversationState = ConversationState.BOT,
        language: str | None = None,
    ) -> int:
        contact = Contact(display_name=f"Customer {name}", phone=None)
        self.session.add(contact)
        await self.session.flush()
        conversation = Conversation(
            contact_id=contact.id,
            channel=channel,
            address=f"address-{name}",
            state=state,
            nature_of_inquiry="order_status",
            language=language,
            created_at=customer_writes[0],
            updated_at=customer_writes[-1],
            last_message_at=customer_writes[-1] + timedelta(seconds=1),
        )
        self.session.add(conversation)
        await self.session.flush()
        for when in customer_writes:
            for direction, kind in (
                (Direction.INBOUND, SenderKind.CUSTOMER),
                (Direction.OUTBOUND, SenderKind.BOT),
            ):
                self.session.add(
                    Message(
                        conversation_id=conversation.id,
                        channel=channel,
                        direction=direction,
                        sender_kind=kind,
                        text=f"{name} {kind}",
                        created_at=when,
                    )
                )
        return conversation.id

    async def handoff(
        self,
        conversation_id: int,
        requested: datetime,
        reason: str,
        priority: Priority,
        *,
        answered_by: str | None = None,
        after: timedelta | None = None,
        resolved: bool = False,
        follow_up_due: date | None = None,
        score: int | None = None,
    ) -> None:
        window = {Priority.URGENT: 1, Priority.HIGH: 4, Priority.NORMAL: 24}[priority]
        rep = self.reps[answered_by] if answered_by else None
        answered = requested + after if after else None
        resolved_at = (answered + timedelta(minutes=5)) if resolved and answered else None
        record = Handoff(
            conversation_id=conversation_id,
            requested_at=requested,
            reason=reason,
            priority=priority,
            first_response_at=answered,
            first_response_rep_id=rep.id if rep else None,
            resolved_at=resolved_at,
            due_at=requested + timedelta(hours=window),
            at_risk_after=requested + timedelta(hours=window * 0.75),
            resolution_due_at=requested + timedelta(hours=40),
            resolution_business_seconds=(resolved_at - requested).total_seconds()
            if resolved_at
            else None,
        )
        self.session.add(record)
        await self.session.flush()
        self.session.add(
            ResponseWindow(
                handoff_id=record.id,
                conversation_id=conversation_id,
                kind=ResponseKind.FIRST,
                opened_at=requested,
                due_at=record.due_at,
                at_risk_after=record.at_risk_after,
                answered_at=answered,
                business_seconds=after.total_seconds() if after else None,
            )
        )
        conversation = await self.session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.handoff_requested_at = requested
        conversation.due_at = record.due_at
        conversation.escalation_reason = reason
        conversation.priority = priority
        conversation.priority_rank = priority.rank
        conversation.escalated = conversation.state == ConversationState.QUEUED
        conversation.tier = 1 if conversation.escalated else None
        await self.session.flush()
        self._records[conversation_id] = record
        if not resolved or rep is None or answered is None:
            return
        wrap = WrapUp(
            handoff_id=record.id,
            conversation_id=conversation_id,
            rep_id=rep.id,
            nature_of_inquiry=reason,
            actions_taken=f"helped with {reason}",
            follow_up_required=follow_up_due is not None,
            follow_up_due=follow_up_due,
            follow_up_owner_id=rep.id if follow_up_due else None,
            created_at=answered + timedelta(minutes=5),
        )
        self.session.add(wrap)
        await self.session.flush()
        if score is not None:
            self.session.add(
                Rating(
                    conversation_id=conversation_id,
                    wrap_up_id=wrap.id,
                    rep_id=rep.id,
                    status=RatingStatus.RATED,
                    score=score,
                    asked_at=answered + timedelta(minutes=5),
                    answered_at=answered + timedelta(minutes=6),
                )
            )
