"""The conversation router: store every customer message first, then route it.

`receive` commits the message (or reports a duplicate delivery) and nothing else, so a channel
can acknowledge its vendor at once. `process` routes what is pending for a conversation, in
order: to Rasa while the bot owns the conversation, to the human queue once a person does.
Replies are committed together with their outbox rows and sent after the commit.

Several gateway instances may share the store, so a message is claimed before it is routed (a
conditional UPDATE from `pending` to `routing` with a lease): one instance routes it, and one
whose router died mid-turn is taken over once the lease runs out (`pending_conversations`).
A conversation's messages are claimed oldest first, one at a time, which keeps their order.
A message whose routing fails is handed back for the sweep to try again; once it has been
claimed `route_max_attempts` times (errors, or instances dying on it) it is given up and the
conversation handed to a person, so the messages after it are not held up forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intake import ClaimedTurn, Received, store_customer_message
from bot.keyed_locks import KeyedLocks
from bot.lifecycle import HUMAN_STATES, Actor, transition
from bot.messages import Channel, InboundMessage, Reply, SenderKind
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.privacy_notice import privacy_notice
from bot.rasa_client import AssistantUnavailable, RasaClient, Turn
from bot.rate_limit import RateLimiter
from bot.replies import ReplyLog
from bot.store.models import (
    Conversation,
    ConversationState,
    Delivery,
    Message,
    TurnStatus,
    utcnow,
)
from bot.turn_claims import DEFAULT_TURN_LEASE, TurnClaims
from handoff.escalation import request_handoff
from handoff.faq_feedback import parse_feedback, take_faq_feedback, with_helpful_question
from handoff.feedback import take_rating
from handoff.live import LiveHub, message_added, queue_changed
from handoff.policy import queue_notice_text

logger = logging.getLogger(__name__)

# Intents that say nothing about what the customer needs; the nature of inquiry is the first
# intent not in this set.
# Said when a customer sends media or a location to the bot, which reads text only.
ATTACHMENT_NOTICE = (
    'Thanks. I can only read text, but a representative can see what you sent: type "agent" '
    "if you'd like a person to look at it."
)

DEFAULT_ROUTE_MAX_ATTEMPTS = 3
# The escalation reason of a conversation whose message the router gave up on.
ROUTING_FAILED = "routing_failed"

SMALL_TALK = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "nlu_fallback"}
)


class ConversationRouter:
    """Stores customer messages and routes them to the bot or the human queue."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        rasa: RasaClient,
        outbox: Outbox,
        promise_hours: int,
        live: LiveHub | None = None,
        metrics: Metrics | None = None,
        turn_lease: timedelta = DEFAULT_TURN_LEASE,
        route_max_attempts: int = DEFAULT_ROUTE_MAX_ATTEMPTS,
        other_instances: bool = True,
        privacy_notice: str = "",
    ) -> None:
        self._session_factory = session_factory
        self._privacy_notice = privacy_notice  # empty: none sent
        self._claims = TurnClaims(session_factory, lease=turn_lease)
        self._route_max_attempts = route_max_attempts
        self._other_instances = other_instances
        self._rasa = rasa
        self._outbox = outbox
        self._promise_hours = promise_hours
        self._live = live  # consoles following the queue and conversations
        self._metrics = metrics or Metrics()
        self._replies = ReplyLog(outbox, self._metrics)
        self._turn_locks = KeyedLocks()

    async def handle(self, inbound: InboundMessage) -> Received | None:
        """Store and route one message now (web chat); None when it was a duplicate delivery.

        Stored already claimed for routing when nothing earlier in the conversation waits:
        one commit for both, and no second look for what to route. Afterwards, only another
        instance can have left a message of the conversation for this one to route (it found
        this one routing): with none, the look for more is skipped too.
        """
        received = await store_customer_message(
            self._session_factory, inbound, routed=False, claim_for=self._claims.lease
        )
        if received is None:
            return None
        self._metrics.messages.labels(str(inbound.channel), "inbound").inc()
        conversation_id = received.conversation_id
        async with self._turn_locks.hold(conversation_id):
            if received.claimed is not None:
                routed = await self._route_taken(
                    conversation_id, received.message_id, received.claimed, attempt=1
                )
                if not routed or not self._other_instances:
                    return received
            while await self._route_next(conversation_id):
                pass
        return received

    async def receive(
        self, inbound: InboundMessage, *, rate_limiter: RateLimiter | None = None
    ) -> Received | None:
        """Commit the customer's message; None when this delivery was stored before.

        Over the sender's limit (`rate_limiter`), it is stored but not to be routed
        (`Received.rate_limited`; bot/intake.py).
        """
        received = await store_customer_message(
            self._session_factory, inbound, routed=False, rate_limiter=rate_limiter
        )
        if received is not None:
            self._metrics.messages.labels(str(inbound.channel), "inbound").inc()
        return received

    async def record(
        self,
        inbound: InboundMessage,
        *,
        reply: Reply | None,
        rate_limiter: RateLimiter | None = None,
    ) -> Received | None:
        """Log a message the bot must not see (STOP, HELP …) and send `reply`, if any."""
        received = await store_customer_message(
            self._session_factory, inbound, routed=True, rate_limiter=rate_limiter
        )
        if received is not None:
            self._metrics.messages.labels(str(inbound.channel), "inbound").inc()
            if reply is not None:
                await self.send_reply(received.conversation_id, reply)
        return received

    async def process(self, conversation_id: int) -> None:
        """Route every pending customer message of a conversation, oldest first."""
        # Look again after each turn: a message stored meanwhile by another instance, which
        # found this one routing the conversation, is left for this loop to route.
        async with self._turn_locks.hold(conversation_id):
            while await self._route_next(conversation_id):
                pass

    def is_processing(self, conversation_id: int) -> bool:
        """This process is routing the conversation now, or about to."""
        return conversation_id in self._turn_locks

    async def pending_conversations(self, *, older_than: timedelta = timedelta(0)) -> list[int]:
        """Conversations with a customer message no instance is routing (see TurnClaims)."""
        return await self._claims.pending_conversations(older_than=older_than)

    async def _route_next(self, conversation_id: int) -> bool:
        """Claim and route the oldest message not yet routed; False when there is none to take.

        None to take: nothing waits, or another instance is routing the oldest one (it looks
        again for what follows once its turn is done).
        """
        async with self._session_factory() as session:
            rows = (
                await session.execute(
                    select(
                        Message.id,
                        Message.text,
                        Message.payload,
                        Conversation.state,
                        Conversation.channel,
                    )
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(
                        Message.conversation_id == conversation_id,
                        Message.turn_status.in_([TurnStatus.PENDING, TurnStatus.ROUTING]),
                    )
                    .order_by(Message.id)
                    .limit(1)
                )
            ).all()
        if not rows:
            return False
        message_id, text, payload, state, channel = rows[0]
        attempt = await self._claims.claim(message_id, utcnow())
        if attempt is None:
            return False
        turn = ClaimedTurn(text=text, payload=payload or {}, state=state, channel=channel)
        return await self._route_taken(conversation_id, message_id, turn, attempt=attempt)

    async def _route_taken(
        self, conversation_id: int, message_id: int, turn: ClaimedTurn, *, attempt: int
    ) -> bool:
        """Route a message this instance has claimed; False when the next must wait."""
        if attempt > self._route_max_attempts:
            return await self._give_up_turn(conversation_id, message_id, attempts=attempt - 1)
        try:
            await self._route_claimed(conversation_id, message_id, turn)
        except asyncio.CancelledError:
            # Stopped mid-turn (a shutdown): give the message back at once rather than leave
            # it for the lease to run out, and without counting the attempt (not its fault). A
            # crash leaves the lease; the sweep takes it then, and that counts.
            await self._claims.release(message_id, refund_attempt=True)
            raise
        except Exception:
            # A bug, or a record the router cannot handle: raised further it would only end
            # the caller's task. Handed back for the sweep to try again (the messages after it
            # wait, so none overtakes it). Database errors hide their parameters
            # (bot/store/db.py): the traceback carries no customer text.
            logger.exception(
                "turn.failed conversation_id=%s message_id=%s attempt=%s",
                conversation_id,
                message_id,
                attempt,
            )
            self._metrics.turns.labels("failed").inc()
            await self._claims.release(message_id, refund_attempt=False)
            return False
        return True  # look again once this one is routed

    async def _route_claimed(
        self, conversation_id: int, message_id: int, turn: ClaimedTurn
    ) -> None:
        if turn.state in HUMAN_STATES:
            await self._hold_for_person(conversation_id, message_id)
            return
        said = turn.payload.get("button_payload") or turn.text
        if turn.state == ConversationState.RESOLVED and await self._take_rating(
            conversation_id, message_id, said
        ):
            return
        if await self._take_faq_feedback(conversation_id, message_id, said):
            return
        has_attachments = bool(turn.payload.get("attachments"))
        await self._bot_turn(conversation_id, message_id, said, turn.channel, has_attachments)

    async def _give_up_turn(self, conversation_id: int, message_id: int, *, attempts: int) -> bool:
        """Stop routing a message every attempt failed on: done, and a person takes over.

        The customer is told a person will reply (as on any handoff), the queue and the audit
        trail show reason `routing_failed`. True when the messages after it may go on.
        """
        now = utcnow()
        try:
            async with self._session_factory() as session, session.begin():
                conversation = await session.get(Conversation, conversation_id)
                message = await session.get(Message, message_id)
                assert conversation is not None and message is not None
                message.turn_status = TurnStatus.DONE
                # Already with a person (holding it for them failed): they read it there.
                handed_off = conversation.state not in HUMAN_STATES
                replies: list[Reply] = []
                if handed_off:
                    replies.append(
                        request_handoff(
                            session,
                            conversation,
                            reason=ROUTING_FAILED,
                            priority="normal",
                            context={},
                            actor=Actor.SYSTEM,
                            now=now,
                            promise_hours=self._promise_hours,
                        )
                    )
                deliveries = await self._replies.add(session, conversation, replies, now)
        except Exception:
            # Left claimed: its lease runs out and the next claim gives it up again.
            logger.exception(
                "turn.give_up_failed conversation_id=%s message_id=%s", conversation_id, message_id
            )
            return False
        logger.warning(
            "turn.gave_up conversation_id=%s message_id=%s attempts=%s handed_off=%s",
            conversation_id,
            message_id,
            attempts,
            handed_off,
        )
        self._metrics.turns.labels("gave_up").inc()
        if handed_off:
            self._metrics.handoffs.labels(ROUTING_FAILED).inc()
        if self._live is not None:
            self._live.publish(message_added(conversation_id, message_id, SenderKind.CUSTOMER))
            if handed_off:
                self._live.publish(queue_changed(conversation_id))
        await self._outbox.send_claimed(deliveries)
        return True

    async def _take_rating(self, conversation_id: int, message_id: int, said: str) -> bool:
        """After a resolution: store the customer's 1-5 rating and thank them (not the bot's)."""
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            thanks = await take_rating(session, conversation_id=conversation_id, said=said, now=now)
            if thanks is None:
                return False  # not a rating: the question is dropped, the bot answers
            conversation = await session.get(Conversation, conversation_id)
            message = await session.get(Message, message_id)
            assert conversation is not None and message is not None
            message.turn_status = TurnStatus.DONE
            deliveries = await self._replies.add(session, conversation, [thanks], now)
        if self._live is not None:
            self._live.publish(message_added(conversation_id, message_id, SenderKind.CUSTOMER))
        await self._outbox.send_claimed(deliveries)
        return True

    async def _take_faq_feedback(self, conversation_id: int, message_id: int, said: str) -> bool:
        """A "did this help?" button: store the answer and reply (handoff/faq_feedback.py)."""
        if parse_feedback(said) is None:
            return False  # most messages: no store round trip
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            reply = await take_faq_feedback(
                session,
                conversation_id=conversation_id,
                said=said,
                now=now,
                promise_hours=self._promise_hours,
            )
            conversation = await session.get(Conversation, conversation_id)
            message = await session.get(Message, message_id)
            assert reply is not None and conversation is not None and message is not None
            message.turn_status = TurnStatus.DONE
            deliveries = await self._replies.add(session, conversation, [reply], now)
        if self._live is not None:
            self._live.publish(message_added(conversation_id, message_id, SenderKind.CUSTOMER))
        await self._outbox.send_claimed(deliveries)
        return True

    async def _bot_turn(
        self,
        conversation_id: int,
        message_id: int,
        text: str,
        channel: Channel,
        has_attachments: bool,
    ) -> None:
        started = time.perf_counter()
        notices = [ATTACHMENT_NOTICE] if has_attachments else []
        turn: Turn | None = None
        try:
            if text:  # a photo alone has nothing for the assistant to read
                turn = await self._rasa.turn(
                    sender_id=f"conversation-{conversation_id}",
                    text=text,
                    metadata={"channel": str(channel)},
                )
        except AssistantUnavailable as error:
            logger.warning(
                "turn.assistant_unavailable conversation_id=%s error=%s", conversation_id, error
            )
            await self._commit_turn(
                conversation_id, message_id, turn=None, unavailable=True, notices=[]
            )
            self._metrics.turns.labels("unavailable").inc()
            return
        await self._commit_turn(
            conversation_id, message_id, turn=turn, unavailable=False, notices=notices
        )
        elapsed = time.perf_counter() - started
        self._metrics.turn_seconds.observe(elapsed)
        self._metrics.turns.labels("handoff" if turn and turn.handoff else "answered").inc()
        logger.debug(
            "turn.completed conversation_id=%s intent=%s ms=%.1f",
            conversation_id,
            turn.intent if turn else None,
            elapsed * 1000,
        )

    async def _commit_turn(
        self,
        conversation_id: int,
        message_id: int,
        *,
        turn: Turn | None,
        unavailable: bool,
        notices: list[str],
    ) -> None:
        now = utcnow()
        deliveries: list[Delivery] = []
        async with self._session_factory() as session, session.begin():
            conversation, message = (
                await session.execute(
                    select(Conversation, Message)
                    .join(Message, Message.conversation_id == Conversation.id)
                    .where(Message.id == message_id)
                )
            ).one()
            message.turn_status = TurnStatus.DONE
            if conversation.state == ConversationState.RESOLVED:
                transition(
                    session,
                    conversation,
                    ConversationState.BOT,
                    actor=Actor.CUSTOMER,
                    reason="customer wrote again",
                    at=now,
                )
            replies = privacy_notice(conversation, text=self._privacy_notice, now=now)
            replies.extend(Reply(text=n, sender_kind=SenderKind.SYSTEM) for n in notices)
            if turn is not None:
                message.intent = turn.intent
                message.intent_confidence = turn.confidence
                if conversation.nature_of_inquiry is None and turn.intent not in SMALL_TALK:
                    conversation.nature_of_inquiry = turn.intent
                bot_replies = [
                    Reply(text=r.text, sender_kind=SenderKind.BOT, buttons=r.buttons)
                    for r in turn.replies
                ]
                replies.extend(
                    with_helpful_question(
                        bot_replies, intent=turn.intent, handing_off=turn.handoff is not None
                    )
                )
            handoff = turn.handoff if turn is not None else None
            if unavailable or handoff is not None:
                replies.append(
                    request_handoff(
                        session,
                        conversation,
                        reason=handoff.reason if handoff else "assistant_unavailable",
                        priority=handoff.priority if handoff else "normal",
                        context=_handoff_context(turn),
                        actor=Actor.BOT if handoff else Actor.SYSTEM,
                        now=now,
                        promise_hours=self._promise_hours,
                    )
                )
                self._metrics.handoffs.labels(str(conversation.escalation_reason)).inc()
                logger.info(
                    "handoff.queued conversation_id=%s reason=%s priority=%s",
                    conversation.id,
                    conversation.escalation_reason,
                    conversation.priority,
                )
            deliveries = await self._replies.add(session, conversation, replies, now)
        if self._live is not None and (unavailable or handoff is not None):
            self._live.publish(queue_changed(conversation_id))
        await self._outbox.send_claimed(deliveries)

    async def _hold_for_person(self, conversation_id: int, message_id: int) -> None:
        """A person owns the conversation: keep the message for them; acknowledge once if queued."""
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            message = await session.get(Message, message_id)
            assert conversation is not None and message is not None
            message.turn_status = TurnStatus.DONE
            replies: list[Reply] = []
            if (
                conversation.state == ConversationState.QUEUED
                and not conversation.queue_notice_sent
            ):
                conversation.queue_notice_sent = True
                replies.append(
                    Reply(
                        text=queue_notice_text(self._promise_hours), sender_kind=SenderKind.SYSTEM
                    )
                )
            deliveries = await self._replies.add(session, conversation, replies, now)
        if self._live is not None:  # the owner sees the customer's message at once
            self._live.publish(message_added(conversation_id, message_id, SenderKind.CUSTOMER))
        self._metrics.turns.labels("human").inc()
        await self._outbox.send_claimed(deliveries)

    async def send_reply(self, conversation_id: int, reply: Reply) -> int:
        """Log and send a reply (a rep's, or the system's) on the conversation's channel."""
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise LookupError(f"no conversation {conversation_id}")
            deliveries = await self._replies.add(session, conversation, [reply], now)
            message_id = deliveries[0].message_id if deliveries else 0
        await self._outbox.send_claimed(deliveries)
        if self._live is not None:  # after the send, so the console shows its status
            self._live.publish(message_added(conversation_id, message_id, reply.sender_kind))
        return message_id


def _handoff_context(turn: Turn | None) -> dict[str, Any]:
    if turn is None:
        return {}
    return {
        "intent": turn.intent,
        "confidence": turn.confidence,
        "slots": turn.slots,
        "summary": turn.handoff.summary if turn.handoff else None,
    }
