"""A known data set for the old and the new containment figures, worked out by hand.

Range 10-12 March 2026 (UTC), reported on 15 March 12:00; come-back window 24 h. Eleven
conversations write in the range; two are handed off. Twelve episodes start in it:

| episode | conversation | what happened | category |
|---|---|---|---|
| E1 | C1 webchat | track_order, said it helped | helped |
| E2 | C2 sms | delivery_period answered, never came back | did_not_come_back |
| E3 | C3 telegram | not understood (nlu_fallback), left | abandoned_after_fallback |
| E4 | C4 whatsapp, X | get_refund answered; X asked again by SMS 10 h on | came_back_same_topic |
| E5 | C5 sms, X | get_refund again, then a person | handed_off |
| E6 | C6 webchat | payment_issue, said it did not help, left | said_not_helped |
| E7 | C7 webchat | hello and goodbye only | no_inquiry |
| E8 | C8 webchat | check_invoice, still writing on 15 March | open |
| E9 | C9 sms | complaint, a person resolved it | handed_off |
| E10 | C10 webchat | track_order, said it helped, asked again too | helped |
| E11 | C11 webchat | cancel_order on 10 March, never came back | did_not_come_back |
| E12 | C11 webchat | two days later, not understood, left | abandoned_after_fallback |

E0 (C0, February) is outside the range. Old figure: 9 of 11 conversations without a handoff
(82%). New figure: resolved 4 (2 helped, 2 did not come back), unresolved 4 (2 abandoned
after a fallback, 1 came back on the same topic, 1 said it did not help), 2 handed off, 1 open,
1 small talk only: 4 of 10 settled episodes (40%).
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
    Episode,
    EpisodeOutcome,
    Handoff,
    Message,
    Priority,
)

START, END = date(2026, 3, 10), date(2026, 3, 12)
NOW = datetime.fromisoformat("2026-03-15T12:00:00+00:00")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime.fromisoformat(f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+00:00")


@dataclass
class _Seed:
    session: AsyncSession
    contacts: dict[str, int] = field(default_factory=dict)
    conversations: dict[str, int] = field(default_factory=dict)
    message_ids: int = 0

    async def conversation(self, name: str, channel: Channel, contact: str) -> int:
        if contact not in self.contacts:
            row = Contact(display_name=f"Customer {contact}")
            self.session.add(row)
            await self.session.flush()
            self.contacts[contact] = row.id
        conversation = Conversation(
            contact_id=self.contacts[contact],
            channel=channel,
            address=f"address-{name}",
            state=ConversationState.BOT,
        )
        self.session.add(conversation)
        await self.session.flush()
        self.conversations[name] = conversation.id
        return conversation.id

    async def episode(
        self,
        conversation: str,
        writes: list[datetime],
        *,
        topic: str | None,
        outcome: EpisodeOutcome,
        helped: bool | None = None,
        fallback: bool = False,
        came_back_at: datetime | None = None,
        handoff_reason: str | None = None,
        closed: bool = True,
    ) -> None:
        conversation_id = self.conversations[conversation]
        channel = (await self.session.get(Conversation, conversation_id)).channel  # type: ignore[union-attr]
        first_id = None
        for when in writes:
            message = Message(
                conversation_id=conversation_id,
                channel=channel,
                direction=Direction.INBOUND,
                sender_kind=SenderKind.CUSTOMER,
                text="…",
                intent=topic,
                created_at=when,
            )
            self.session.add(message)
            await self.session.flush()
            first_id = first_id or message.id
        if handoff_reason is not None:
            self.session.add(
                Handoff(
                    conversation_id=conversation_id,
                    requested_at=writes[-1],
                    reason=handoff_reason,
                    priority=Priority.NORMAL,
                    due_at=writes[-1] + timedelta(hours=24),
                )
            )
        self.session.add(
            Episode(
                conversation_id=conversation_id,
                contact_id=(await self.session.get(Conversation, conversation_id)).contact_id,  # type: ignore[union-attr]
                started_at=writes[0],
                last_activity_at=writes[-1],
                nature_of_inquiry=topic,
                topic_at=writes[0] if topic else None,
                topic_message_id=first_id if topic else None,
                last_intent="nlu_fallback" if fallback else topic,
                ended_on_fallback=fallback,
                helped=helped,
                came_back_at=came_back_at,
                handoff_requested_at=writes[-1] if handoff_reason else None,
                handoff_reason=handoff_reason,
                outcome=outcome if closed else EpisodeOutcome.OPEN,
                closed_at=(writes[-1] + timedelta(hours=24)) if closed else None,
            )
        )
        await self.session.flush()


async def seed_containment(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Seed the data set above; the conversations' ids by name."""
    async with sessions() as session, session.begin():
        s = _Seed(session)
        for name, channel, contact in (
            ("C0", Channel.WEBCHAT, "A0"),
            ("C1", Channel.WEBCHAT, "A1"),
            ("C2", Channel.SMS, "A2"),
            ("C3", Channel.TELEGRAM, "A3"),
            ("C4", Channel.WHATSAPP, "X"),
            ("C5", Channel.SMS, "X"),
            ("C6", Channel.WEBCHAT, "A6"),
            ("C7", Channel.WEBCHAT, "A7"),
            ("C8", Channel.WEBCHAT, "A8"),
            ("C9", Channel.SMS, "A9"),
            ("C10", Channel.WEBCHAT, "A10"),
            ("C11", Channel.WEBCHAT, "A11"),
        ):
            await s.conversation(name, channel, contact)
        answered, handed = EpisodeOutcome.ANSWERED, EpisodeOutcome.HANDED_OFF
        await s.episode("C0", [at(20, 9, month=2)], topic="track_order", outcome=answered)
        await s.episode("C1", [at(10, 9)], topic="track_order", outcome=answered, helped=True)
        await s.episode("C2", [at(10, 11)], topic="delivery_period", outcome=answered)
        await s.episode(
            "C3", [at(10, 12)], topic=None, outcome=EpisodeOutcome.ABANDONED, fallback=True
        )
        await s.episode(
            "C4", [at(10, 10)], topic="get_refund", outcome=answered, came_back_at=at(10, 20)
        )
        await s.episode(
            "C5", [at(10, 20), at(10, 20, 5)], topic="get_refund", outcome=handed,
            handoff_reason="faq_not_helpful",
        )  # fmt: skip
        await s.episode("C6", [at(11, 8)], topic="payment_issue", outcome=answered, helped=False)
        await s.episode("C7", [at(11, 9)], topic=None, outcome=EpisodeOutcome.NO_INQUIRY)
        await s.episode(
            "C8", [at(12, 9), at(15, 11)], topic="check_invoice", outcome=answered, closed=False
        )
        await s.episode(
            "C9", [at(12, 10)], topic="complaint", outcome=handed, handoff_reason="complaint"
        )
        await s.episode(
            "C10", [at(12, 11)], topic="track_order", outcome=answered, helped=True,
            came_back_at=at(12, 11, 30),
        )  # fmt: skip
        await s.episode("C11", [at(10, 14)], topic="cancel_order", outcome=answered)
        await s.episode(
            "C11", [at(12, 16)], topic=None, outcome=EpisodeOutcome.ABANDONED, fallback=True
        )
    return s.conversations
