"""Replies written into the conversation log, each with its outbox deliveries, and sent.

The one reply path: the router's turns, a rep's reply (handoff/replies.py) and the system's own
messages (keyword answers, greetings, the rating question) all add their replies here inside
their own transaction and send them after the commit. Each reply carries the conversation's
language, so the words a channel adds when rendering it ("Reply 1 for …") are in it too; a
system reply whose words depend on the language may be given as a function of it
(`ReplyInLanguage`), worded once the conversation is read.

A person's reply says who wrote it: on channels that show no sender of their own (SMS,
WhatsApp, Telegram) the text the customer receives is `rep_reply_format` with the rep's display
name; the web chat widget labels a rep's messages itself. The log keeps the text as written,
with the rep who wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.events import Events, MessageAdded
from bot.messages import Channel, Direction, Reply, SenderKind
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.privacy import mask_sensitive
from bot.store.models import Conversation, Delivery, Message, utcnow

# A system reply worded in the conversation's language (None: not decided yet).
ReplyInLanguage = Callable[[str | None], Reply]


class NoSuchConversation(Exception):
    """A reply was addressed to a conversation the store does not have."""


# Channels whose client shows who sent a message (the web chat widget's "Support team").
SELF_LABELLED_CHANNELS = frozenset({Channel.WEBCHAT})


def signed(reply: Reply, channel: Channel, rep_reply_format: str) -> Reply:
    """`reply` as the customer reads it on `channel`: a person's, with their name."""
    if (
        reply.sender_kind != SenderKind.REP
        or not reply.rep_name
        or not rep_reply_format
        or channel in SELF_LABELLED_CHANNELS
    ):
        return reply
    return replace(reply, text=rep_reply_format.format(name=reply.rep_name, text=reply.text))


class ReplyService:
    """Adds replies to a conversation, queued for sending, and sends them after the commit."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        metrics: Metrics,
        events: Events,
        rep_reply_format: str = "",
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._metrics = metrics
        self._events = events
        self._rep_reply_format = rep_reply_format

    async def add(
        self,
        session: AsyncSession,
        conversation: Conversation,
        replies: Sequence[Reply],
        now: datetime,
    ) -> list[Delivery]:
        """Log `replies` (card numbers masked) and their deliveries in the caller's transaction;
        pass the deliveries to `send_claimed` after the commit.

        Raises `bot.outbox.NoSender` when no sender serves the conversation's channel.
        """
        if not replies:
            return []
        # Set first: the conversation's one UPDATE goes out with the replies' INSERTs.
        conversation.last_message_at = now
        worded = [
            replace(
                reply,
                text=mask_sensitive(reply.text),  # a rep may paste one too
                language=reply.language or conversation.language,
            )
            for reply in replies
        ]
        messages = [
            Message(
                conversation_id=conversation.id,
                channel=conversation.channel,
                direction=Direction.OUTBOUND,
                sender_kind=reply.sender_kind,
                rep_id=reply.rep_id,
                text=reply.text,
                payload=reply.payload() or None,
                created_at=now,
            )
            for reply in worded
        ]
        session.add_all(messages)
        # One flush for all of them (one INSERT … RETURNING): their ids name the deliveries.
        await session.flush()
        deliveries: list[Delivery] = []
        for reply, message in zip(worded, messages, strict=True):
            self._metrics.messages.labels(str(conversation.channel), "outbound").inc()
            deliveries.extend(
                await self._outbox.enqueue(
                    session,
                    message_id=message.id,
                    conversation_id=conversation.id,
                    channel=conversation.channel,
                    address=conversation.address,
                    reply=signed(reply, conversation.channel, self._rep_reply_format),
                )
            )
        return deliveries

    async def send_claimed(self, deliveries: Sequence[Delivery]) -> None:
        """Send what `add` queued, once the caller has committed it."""
        await self._outbox.send_claimed(deliveries)

    def added(self, deliveries: Sequence[Delivery], reply: Reply) -> int:
        """Tell consoles a reply is in the log (after its send, so they show its status);
        return its message id."""
        message_id = deliveries[0].message_id if deliveries else 0
        if deliveries:
            conversation_id = deliveries[0].conversation_id
            self._events.publish(MessageAdded(conversation_id, message_id, reply.sender_kind))
        return message_id

    async def send(self, conversation_id: int, reply: Reply | ReplyInLanguage) -> int:
        """Log and send one reply (the system's) on the conversation's channel; its message id.

        `reply` may be a function of the conversation's language, for words chosen by it.

        Raises `NoSuchConversation`, or `bot.outbox.NoSender` when this gateway has no sender
        for the conversation's channel.
        """
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise NoSuchConversation(f"no conversation {conversation_id}")
            if not isinstance(reply, Reply):
                reply = reply(conversation.language)
            deliveries = await self.add(session, conversation, [reply], now)
        await self.send_claimed(deliveries)
        return self.added(deliveries, reply)
