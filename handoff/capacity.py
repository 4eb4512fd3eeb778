"""How many conversations a rep holds at once, per channel kind (chat vs messaging).

A web chat customer waits on the page for each answer, so a rep holds few of those at once;
SMS, WhatsApp and Telegram customers write back over minutes or hours, so a rep can hold more.
Each rep may have their own limits; otherwise the settings' (REP_MAX_CHAT, REP_MAX_MESSAGING).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Channel
from bot.settings import setting_default
from bot.store.models import Conversation, ConversationState, Rep


class ChannelKind(enum.StrEnum):
    CHAT = "chat"  # web chat
    MESSAGING = "messaging"  # SMS, WhatsApp, Telegram

    @classmethod
    def of(cls, channel: Channel | str) -> ChannelKind:
        return cls.CHAT if channel == Channel.WEBCHAT else cls.MESSAGING

    @property
    def channels(self) -> list[Channel]:
        return [c for c in Channel if ChannelKind.of(c) == self]


@dataclass(frozen=True, slots=True)
class Capacity:
    """Most open conversations at once, per channel kind."""

    chat: int = setting_default("REP_MAX_CHAT")
    messaging: int = setting_default("REP_MAX_MESSAGING")

    def limit(self, kind: ChannelKind) -> int:
        return self.chat if kind == ChannelKind.CHAT else self.messaging

    def of(self, rep: Rep) -> Capacity:
        """`rep`'s own limits where set, these defaults elsewhere."""
        return Capacity(
            chat=rep.max_chat or self.chat, messaging=rep.max_messaging or self.messaging
        )


OpenCounts = dict[int, dict[ChannelKind, int]]


async def open_counts(session: AsyncSession, rep_ids: Iterable[int] | None = None) -> OpenCounts:
    """Conversations each rep owns now, by channel kind (reps owning none are absent)."""
    query = (
        select(Conversation.assigned_rep_id, Conversation.channel, func.count())
        .where(
            Conversation.state == ConversationState.ASSIGNED,
            Conversation.assigned_rep_id.is_not(None),
        )
        .group_by(Conversation.assigned_rep_id, Conversation.channel)
    )
    if rep_ids is not None:
        query = query.where(Conversation.assigned_rep_id.in_(list(rep_ids)))
    counts: OpenCounts = defaultdict(lambda: dict.fromkeys(ChannelKind, 0))
    for rep_id, channel, count in await session.execute(query):
        counts[int(rep_id or 0)][ChannelKind.of(channel)] += int(count)
    return dict(counts)


async def open_count(session: AsyncSession, rep_id: int, kind: ChannelKind) -> int:
    """Conversations of `kind` the rep owns now (read inside the assigning transaction)."""
    count = await session.scalar(
        select(func.count()).where(
            Conversation.state == ConversationState.ASSIGNED,
            Conversation.assigned_rep_id == rep_id,
            Conversation.channel.in_(kind.channels),
        )
    )
    return int(count or 0)
