"""Replies written into the conversation log, each with its outbox deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Direction, Reply
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.privacy import mask_sensitive
from bot.store.models import Conversation, Delivery, Message


class ReplyLog:
    """Adds replies to a conversation in the caller's transaction, queued for sending."""

    def __init__(self, outbox: Outbox, metrics: Metrics) -> None:
        self._outbox = outbox
        self._metrics = metrics

    async def add(
        self,
        session: AsyncSession,
        conversation: Conversation,
        replies: Sequence[Reply],
        now: datetime,
    ) -> list[Delivery]:
        """Log `replies` (card numbers masked) and their deliveries; send after the commit."""
        deliveries: list[Delivery] = []
        for reply in replies:
            reply = replace(reply, text=mask_sensitive(reply.text))  # a rep may paste one too
            message = Message(
                conversation_id=conversation.id,
                channel=conversation.channel,
                direction=Direction.OUTBOUND,
                sender_kind=reply.sender_kind,
                rep_id=reply.rep_id,
                text=reply.text,
                payload=reply.payload() or None,
                created_at=now,
            )
            session.add(message)
            await session.flush()
            self._metrics.messages.labels(str(conversation.channel), "outbound").inc()
            deliveries.extend(
                await self._outbox.enqueue(
                    session,
                    message_id=message.id,
                    conversation_id=conversation.id,
                    channel=conversation.channel,
                    address=conversation.address,
                    reply=reply,
                )
            )
        if replies:
            conversation.last_message_at = now
            await session.flush()
        return deliveries
