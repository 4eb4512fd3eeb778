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
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import system_texts
from bot.episodes import record_bot_turn, record_feedback, record_handoff
from bot.escalation import TeamChooser, request_handoff
from bot.events import Events, MessageAdded, QueueChanged
from bot.faq_feedback import parse_feedback, take_faq_feedback, with_helpful_question
from bot.feedback import take_rating
from bot.handoff_reasons import HandoffReason
from bot.intake import ClaimedTurn, Received, store_customer_message
from bot.keyed_locks import KeyedLocks
from bot.languages import DEFAULT_LANGUAGE, is_supported
from bot.lifecycle import HUMAN_STATES, Actor, transition
from bot.messages import Channel, InboundMessage, Reply, SenderKind
from bot.metrics import Metrics
from bot.policy import ResponseTargets, queue_notice_text
from bot.privacy import CODE_ANSWER_WINDOW, ONE_TIME_CODE_KEY
from bot.privacy_notice import privacy_notice
from bot.rasa_client import AssistantUnavailable, RasaClient, Turn
from bot.rate_limit import RateLimiter
from bot.replies import ReplyService
from bot.response_clock import ResponseClock
from bot.response_windows import open_next_window
from bot.settings import setting_default
from bot.store.db import reading
from bot.store.models import (
    DEFAULT_TEAM,
    Conversation,
    ConversationState,
    Delivery,
    Message,
    TurnStatus,
    utcnow,
)
from bot.system_texts import TextKey
from bot.turn_claims import Backlog, TurnClaims

logger = logging.getLogger(__name__)

# Channels whose address is a phone number the carrier proves (Twilio's `From`).
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


@dataclass(slots=True)
class _Finish:
    """How a claimed message's turn ends: the replies to send, what consoles are told."""

    replies: list[Reply] = field(default_factory=list)
    # The conversation entered the human queue.
    queued: bool = False
    # Consoles are shown the customer's message (a person may be reading the conversation).
    show_message: bool = True


# Decides a turn inside its transaction, given the conversation and the claimed message; None
# leaves the message unrouted (what it wrote is committed all the same).
_Decide = Callable[[AsyncSession, Conversation, Message, datetime], Awaitable[_Finish | None]]


class ConversationRouter:
    """Stores customer messages and routes them to the bot or the human queue."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        rasa: RasaClient,
        replies: ReplyService,
        promise_hours: int,
        targets: ResponseTargets,
        clock: ResponseClock | None = None,
        events: Events | None = None,
        metrics: Metrics | None = None,
        turn_lease: timedelta | None = None,
        route_max_attempts: int | None = None,
        other_instances: bool = True,
        privacy_notice: str = "",
        choose_team: TeamChooser | None = None,
        episode_quiet: timedelta | None = None,
        come_back: timedelta | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._episode_quiet = episode_quiet or timedelta(
            hours=setting_default("EPISODE_QUIET_HOURS")
        )
        self._come_back = come_back or timedelta(
            hours=setting_default("CONTAINMENT_COME_BACK_HOURS")
        )
        self._privacy_notice = privacy_notice  # empty: none sent
        lease = turn_lease or timedelta(seconds=setting_default("TURN_LEASE_SECONDS"))
        self._claims = TurnClaims(session_factory, lease=lease)
        self._route_max_attempts: int = route_max_attempts or setting_default("ROUTE_MAX_ATTEMPTS")
        self._other_instances = other_instances
        self._rasa = rasa
        self._replies = replies
        self._promise_hours = promise_hours
        self._targets = targets
        # Business hours: due times, next-response windows, "back on Monday at 08:00".
        self._clock = clock or ResponseClock(first_response=targets)
        self._choose_team = choose_team  # the queue's routing table; None: no teams
        self._events = events or Events()  # consoles following the queue and conversations
        self._metrics = metrics or Metrics()
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
                await self._replies.send(received.conversation_id, reply)
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

    async def pending_conversations(
        self,
        *,
        older_than: timedelta = timedelta(0),
        channels: Collection[Channel] | None = None,
        untried_only: bool = False,
    ) -> list[int]:
        """Conversations with a customer message no instance is routing (see TurnClaims)."""
        return await self._claims.pending_conversations(
            older_than=older_than, channels=channels, untried_only=untried_only
        )

    async def backlog(self) -> Backlog:
        """Customer messages whose turn is not done yet (see TurnClaims)."""
        return await self._claims.backlog()

    async def _route_next(self, conversation_id: int) -> bool:
        """Claim and route the oldest message not yet routed; False when there is none to take.

        None to take: nothing waits, or another instance is routing the oldest one (it looks
        again for what follows once its turn is done).
        """
        async with reading(self._session_factory) as session:
            rows = (
                await session.execute(
                    select(
                        Message.id,
                        Message.text,
                        Message.payload,
                        Conversation.state,
                        Conversation.channel,
                        Conversation.language,
                        Conversation.address,
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
        message_id, text, payload, state, channel, language, address = rows[0]
        attempt = await self._claims.claim(message_id, utcnow())
        if attempt is None:
            return False
        turn = ClaimedTurn(
            text=text,
            payload=payload or {},
            state=state,
            channel=channel,
            language=language,
            address=address,
        )
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
        language = turn.language or DEFAULT_LANGUAGE.value
        if not is_supported(language):
            # The assistant would answer in a language the customer may not read: a person
            # takes it, with the language on the conversation for whoever speaks it.
            await self._hand_off_unsupported(conversation_id, message_id, language)
            return
        has_attachments = bool(turn.payload.get("attachments"))
        metadata = turn_metadata(turn.channel, language, turn.address)
        code = turn.payload.get(ONE_TIME_CODE_KEY)
        if isinstance(code, str):
            # The code the assistant asked for: masked in the text, so it travels beside it.
            metadata[ONE_TIME_CODE_KEY] = code
        await self._bot_turn(conversation_id, message_id, said, metadata, has_attachments)

    async def _hand_off_unsupported(
        self, conversation_id: int, message_id: int, language: str
    ) -> None:
        """A customer writing in a language the assistant does not answer in: to a person."""

        async def decide(
            session: AsyncSession, conversation: Conversation, message: Message, now: datetime
        ) -> _Finish:
            _back_to_bot_if_resolved(session, conversation, now)
            replies = privacy_notice(conversation, text=self._privacy_notice, now=now)
            replies.append(
                await self._hand_off(
                    session,
                    conversation,
                    reason=HandoffReason.UNSUPPORTED_LANGUAGE,
                    priority="normal",
                    context={"language": language},
                    actor=Actor.SYSTEM,
                    now=now,
                )
            )
            return _Finish(replies=replies, queued=True, show_message=False)

        await self._finish_turn(conversation_id, message_id, decide, outcome="handoff")
        self._metrics.handoffs.labels(HandoffReason.UNSUPPORTED_LANGUAGE.value).inc()
        logger.info(
            "handoff.queued conversation_id=%s reason=%s language=%s",
            conversation_id,
            HandoffReason.UNSUPPORTED_LANGUAGE,
            language,
        )

    async def _give_up_turn(self, conversation_id: int, message_id: int, *, attempts: int) -> bool:
        """Stop routing a message every attempt failed on: done, and a person takes over.

        The customer is told a person will reply (as on any handoff), the queue and the audit
        trail show reason `routing_failed`. True when the messages after it may go on.
        """

        async def decide(
            session: AsyncSession, conversation: Conversation, message: Message, now: datetime
        ) -> _Finish:
            # Already with a person (holding it for them failed): they read it there.
            if conversation.state in HUMAN_STATES:
                return _Finish()
            reply = await self._hand_off(
                session,
                conversation,
                reason=HandoffReason.ROUTING_FAILED,
                priority="normal",
                context={},
                actor=Actor.SYSTEM,
                now=now,
            )
            return _Finish(replies=[reply], queued=True)

        try:
            settled = await self._settle(conversation_id, message_id, decide)
        except Exception:
            # Left claimed: its lease runs out and the next claim gives it up again.
            logger.exception(
                "turn.give_up_failed conversation_id=%s message_id=%s", conversation_id, message_id
            )
            return False
        assert settled is not None
        finish, deliveries = settled
        logger.warning(
            "turn.gave_up conversation_id=%s message_id=%s attempts=%s handed_off=%s",
            conversation_id,
            message_id,
            attempts,
            finish.queued,
        )
        self._metrics.turns.labels("gave_up").inc()
        if finish.queued:
            self._metrics.handoffs.labels(HandoffReason.ROUTING_FAILED.value).inc()
        await self._announce_and_send(conversation_id, message_id, finish, deliveries)
        return True

    async def _take_rating(self, conversation_id: int, message_id: int, said: str) -> bool:
        """After a resolution: store the customer's 1-5 rating and thank them (not the bot's)."""

        async def decide(
            session: AsyncSession, conversation: Conversation, message: Message, now: datetime
        ) -> _Finish | None:
            thanks = await take_rating(
                session,
                conversation_id=conversation_id,
                said=said,
                now=now,
                language=conversation.language,
            )
            # Not a rating: the question is dropped (committed), the bot answers.
            return None if thanks is None else _Finish(replies=[thanks])

        return await self._finish_turn(conversation_id, message_id, decide) is not None

    async def _take_faq_feedback(self, conversation_id: int, message_id: int, said: str) -> bool:
        """A "did this help?" button: store the answer and reply (bot/faq_feedback.py)."""
        if parse_feedback(said) is None:
            return False  # most messages: no store round trip

        async def decide(
            session: AsyncSession, conversation: Conversation, message: Message, now: datetime
        ) -> _Finish:
            reply = await take_faq_feedback(
                session,
                conversation_id=conversation_id,
                said=said,
                now=now,
                promise_hours=self._promise_hours,
                language=conversation.language,
            )
            assert reply is not None
            parsed = parse_feedback(said)
            assert parsed is not None
            await record_feedback(
                session, conversation_id=conversation_id, helpful=parsed[1], now=now
            )
            return _Finish(replies=[reply])

        await self._finish_turn(conversation_id, message_id, decide)
        return True

    async def _bot_turn(
        self,
        conversation_id: int,
        message_id: int,
        text: str,
        metadata: dict[str, Any],
        has_attachments: bool,
    ) -> None:
        started = time.perf_counter()
        # Media or a location: the bot reads text only, a person can see it.
        notices = [TextKey.ATTACHMENT_NOTICE] if has_attachments else []
        turn: Turn | None = None
        try:
            if text:  # a photo alone has nothing for the assistant to read
                turn = await self._rasa.turn(
                    sender_id=f"conversation-{conversation_id}",
                    text=text,
                    metadata=metadata,
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
        notices: list[TextKey],
    ) -> None:
        async def decide(
            session: AsyncSession, conversation: Conversation, message: Message, now: datetime
        ) -> _Finish:
            _back_to_bot_if_resolved(session, conversation, now)
            language = conversation.language
            replies = privacy_notice(conversation, text=self._privacy_notice, now=now)
            replies.extend(
                Reply(text=system_texts.text(n, language), sender_kind=SenderKind.SYSTEM)
                for n in notices
            )
            expects_code = turn is not None and turn.expects_one_time_code
            conversation.code_expected_until = now + CODE_ANSWER_WINDOW if expects_code else None
            # The interaction record: nature of inquiry per episode, fallbacks, come-backs.
            await record_bot_turn(
                session,
                conversation,
                message_id=message.id,
                # An answer to the assistant's own question (an order number, an email, a
                # code) is no new request, whatever topic the classifier gave it.
                intent=turn.intent if turn is not None and not turn.answering else None,
                now=now,
                quiet=self._episode_quiet,
                come_back=self._come_back,
            )
            if turn is not None:
                bot_replies = [
                    Reply(text=r.text, sender_kind=SenderKind.BOT, buttons=r.buttons)
                    for r in turn.replies
                ]
                replies.extend(
                    with_helpful_question(
                        bot_replies,
                        intent=turn.intent,
                        handing_off=turn.handoff is not None,
                        asking=turn.asking,
                        language=language,
                    )
                )
            handoff = turn.handoff if turn is not None else None
            queued = unavailable or handoff is not None
            if queued:
                replies.append(
                    await self._hand_off(
                        session,
                        conversation,
                        reason=(handoff.reason if handoff else HandoffReason.ASSISTANT_UNAVAILABLE),
                        priority=handoff.priority if handoff else "normal",
                        context=_handoff_context(turn),
                        actor=Actor.BOT if handoff else Actor.SYSTEM,
                        now=now,
                    )
                )
                self._metrics.handoffs.labels(str(conversation.escalation_reason)).inc()
                logger.info(
                    "handoff.queued conversation_id=%s reason=%s priority=%s",
                    conversation.id,
                    conversation.escalation_reason,
                    conversation.priority,
                )
            if turn is not None:
                # Set last: written in the one UPDATE of the message that marks it done.
                message.intent = turn.intent
                message.intent_confidence = turn.confidence
            # A bot turn is not shown live: no person follows a conversation the bot owns.
            return _Finish(replies=replies, queued=queued, show_message=False)

        await self._finish_turn(conversation_id, message_id, decide)

    async def _hold_for_person(self, conversation_id: int, message_id: int) -> None:
        """A person owns the conversation: keep the message for them; acknowledge once if queued."""

        async def decide(
            session: AsyncSession, conversation: Conversation, message: Message, now: datetime
        ) -> _Finish:
            replies: list[Reply] = []
            if (
                conversation.state == ConversationState.QUEUED
                and not conversation.queue_notice_sent
            ):
                conversation.queue_notice_sent = True
                back_at = self._clock.back_at(conversation.team or DEFAULT_TEAM, now)
                notice = queue_notice_text(
                    self._promise_hours,
                    conversation.language,
                    back_at=back_at,
                )
                replies.append(Reply(text=notice, sender_kind=SenderKind.SYSTEM))
            if conversation.assigned_rep_id is not None:
                # A person owns it: the customer now waits for that person's next reply.
                await open_next_window(session, conversation, message, self._clock, now)
            # The owner sees the customer's message at once.
            return _Finish(replies=replies)

        await self._finish_turn(conversation_id, message_id, decide, outcome="human")

    async def _hand_off(
        self,
        session: AsyncSession,
        conversation: Conversation,
        *,
        reason: HandoffReason,
        priority: str,
        context: dict[str, Any],
        actor: str,
        now: datetime,
    ) -> Reply:
        reply = request_handoff(
            session,
            conversation,
            reason=reason,
            priority=priority,
            context=context,
            actor=actor,
            now=now,
            promise_hours=self._promise_hours,
            targets=self._targets,
            choose_team=self._choose_team,
            clock=self._clock,
        )
        await record_handoff(
            session, conversation, reason=reason.value, now=now, quiet=self._episode_quiet
        )
        return reply

    # Finishing a turn: the one way every routed message ends ---------------------------------

    async def _finish_turn(
        self, conversation_id: int, message_id: int, decide: _Decide, *, outcome: str | None = None
    ) -> _Finish | None:
        """Decide, mark the message done and add the replies in one commit; then tell the
        consoles and send. None (nothing done) when `decide` declines the message.

        `outcome`: the turn's label in the metrics, counted once it is committed.
        """
        settled = await self._settle(conversation_id, message_id, decide)
        if settled is None:
            return None
        finish, deliveries = settled
        if outcome is not None:
            self._metrics.turns.labels(outcome).inc()
        await self._announce_and_send(conversation_id, message_id, finish, deliveries)
        return finish

    async def _settle(
        self, conversation_id: int, message_id: int, decide: _Decide
    ) -> tuple[_Finish, list[Delivery]] | None:
        now = utcnow()
        async with self._session_factory() as session, session.begin():
            conversation, message = (
                await session.execute(
                    select(Conversation, Message)
                    .join(Message, Message.conversation_id == Conversation.id)
                    .where(Message.id == message_id)
                )
            ).one()
            finish = await decide(session, conversation, message, now)
            if finish is None:
                return None
            message.turn_status = TurnStatus.DONE
            if message.payload and ONE_TIME_CODE_KEY in message.payload:
                # Checked (or not wanted any more) once the turn is done: not kept.
                message.payload = {
                    k: v for k, v in message.payload.items() if k != ONE_TIME_CODE_KEY
                } or None
            deliveries = await self._replies.add(session, conversation, finish.replies, now)
        return finish, deliveries

    async def _announce_and_send(
        self, conversation_id: int, message_id: int, finish: _Finish, deliveries: list[Delivery]
    ) -> None:
        if finish.show_message:
            self._events.publish(MessageAdded(conversation_id, message_id, SenderKind.CUSTOMER))
        if finish.queued:
            self._events.publish(QueueChanged(conversation_id))
        await self._replies.send_claimed(deliveries)


def _back_to_bot_if_resolved(
    session: AsyncSession, conversation: Conversation, now: datetime
) -> None:
    """A resolved conversation the customer writes in again is the bot's again."""
    if conversation.state == ConversationState.RESOLVED:
        transition(
            session,
            conversation,
            ConversationState.BOT,
            actor=Actor.CUSTOMER,
            reason="customer wrote again",
            at=now,
        )


def turn_metadata(channel: Channel, language: str, address: str | None) -> dict[str, Any]:
    """What the assistant is told with each turn besides the text.

    `language` picks each answer's variant (Rasa's `language` slot, connectors/gateway.py).
    `customer_phone`, on SMS and WhatsApp only, is the number the carrier proves the customer
    writes from: the assistant's lookups show an order only to the phone on it
    (actions/verification.py). Other channels prove no phone, so they send none.
    """
    metadata: dict[str, Any] = {"channel": str(channel), "language": language}
    if channel in PHONE_CHANNELS and address:
        metadata["customer_phone"] = address.removeprefix("whatsapp:")
    return metadata


def _handoff_context(turn: Turn | None) -> dict[str, Any]:
    if turn is None:
        return {}
    return {
        "intent": turn.intent,
        "confidence": turn.confidence,
        "slots": turn.slots,
        "summary": turn.handoff.summary if turn.handoff else None,
    }
