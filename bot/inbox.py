"""How every channel hands over its customers' messages: the one receive-and-route path.

A channel parses and verifies what its vendor sent into an `InboundMessage` and calls `take`:
the message is committed once (a redelivery is reported as a duplicate), put to the sender's
rate limit, and routed. Vendors' webhooks are answered as soon as the message is stored, so
their messages are routed in the background (or by worker processes: bot/turn_worker.py); web
chat's customer waits on an open socket, so its messages are routed before `take` returns
(`now=True`). Messages the bot must not see (STOP, /start, an edit) are `record`ed; the
system's own answers to them are `reply_later`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import BackgroundTasks
from bot.buttons import chosen_option, recent_buttons
from bot.intake import Received
from bot.messages import Button, Channel, InboundMessage, Reply
from bot.outbox import Outbox
from bot.rate_limit import RateLimiter
from bot.replies import ReplyInLanguage, ReplyService
from bot.router import ConversationRouter
from bot.store.models import Conversation
from bot.turn_signal import TurnSignal

logger = logging.getLogger(__name__)

# A customer who came back while the store was away: how soon, and then at most how often, to
# try again to send them what waited.
FLUSH_RETRY_SECONDS = 1.0
FLUSH_MAX_RETRY_SECONDS = 30.0
# How far back a typed "1" may reach for the options it answers.
OPTIONS_LOOKBACK = 20


class Taken(enum.StrEnum):
    """What became of a message handed to `take`."""

    ACCEPTED = "accepted"  # stored; routed (or being routed)
    DUPLICATE = "duplicate"  # this delivery was stored before
    RATE_LIMITED = "rate_limited"  # over the sender's limit: not routed, nothing answered


class Inbox:
    """Stores and routes customer messages for every channel."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        router: ConversationRouter,
        replies: ReplyService,
        outbox: Outbox,
        rate_limiter: RateLimiter | None,
        background: BackgroundTasks,
        routed_by_workers: frozenset[Channel] = frozenset(),
        turn_signal: TurnSignal | None = None,
    ) -> None:
        self._session_factory = session_factory
        # Channels whose stored messages worker processes take from the store (bot/turn_worker.py)
        self._routed_by_workers = routed_by_workers
        self._turn_signal = turn_signal  # tells the workers, after the commit
        self._router = router
        self._replies = replies
        self._outbox = outbox
        self._rate_limiter = rate_limiter
        self._background = background

    async def take(self, inbound: InboundMessage, *, now: bool = False) -> Taken:
        """Store `inbound` once and route it; raise when it could not be stored.

        `now=False` (a vendor's webhook): the limit is asked once the message is known to be new,
        in the transaction that stores it, so a redelivery costs the sender nothing; over it,
        the message is stored but not routed. Routing runs in the background.
        `now=True` (a customer waiting on a live connection): over the limit, nothing is stored
        (the channel tells the customer at once); else the message is stored and routed before
        this returns.
        """
        if now:
            if self._rate_limiter is not None and not await self._rate_limiter.allow(
                inbound.channel, inbound.address
            ):
                return Taken.RATE_LIMITED
            return Taken.ACCEPTED if await self._router.handle(inbound) else Taken.DUPLICATE
        received = await self._router.receive(inbound, rate_limiter=self._rate_limiter)
        if received is None:
            return Taken.DUPLICATE
        if received.rate_limited:
            return Taken.RATE_LIMITED
        if inbound.channel not in self._routed_by_workers:
            self.route_later(received.conversation_id)
        elif self._turn_signal is not None:
            self._background.spawn(self._turn_signal.ring(), name="turn-signal")
        return Taken.ACCEPTED

    async def record(self, inbound: InboundMessage, *, limited: bool = False) -> Received | None:
        """Log a message the bot must not see; None when this delivery was stored before.

        `limited`: it gets an answer, so it counts against the sender's limit
        (`Received.rate_limited` says when it is over).
        """
        return await self._router.record(
            inbound, reply=None, rate_limiter=self._rate_limiter if limited else None
        )

    def route_later(self, conversation_id: int) -> None:
        """Route what is pending for a conversation in the background (after the vendor's ack)."""
        self._background.spawn(
            self._router.process(conversation_id), name=f"turn-{conversation_id}"
        )

    def reply_later(
        self, conversation_id: int, reply: Reply | ReplyInLanguage, *, name: str
    ) -> None:
        """Send the system's `reply` in the background (the vendor is answered first); a
        function of the conversation's language is worded in it."""
        self._background.spawn(self._replies.send(conversation_id, reply), name=name)

    def spawn(self, work: Awaitable[None], *, name: str) -> None:
        """Run a channel's own follow-up work in the background (a vendor call after the ack)."""
        self._background.spawn(_awaiting(work), name=name)

    async def with_chosen_option(self, inbound: InboundMessage) -> InboundMessage:
        """A typed option number as the button it stands for, in the latest message that
        offered buttons (channels without buttons offer them as numbered options); anything
        else unchanged."""
        number = chosen_option(inbound.text)
        if number is None or inbound.attachments:
            return inbound
        offered = await recent_buttons(
            self._session_factory,
            channel=inbound.channel,
            address=inbound.address,
            lookback=OPTIONS_LOOKBACK,
        )
        buttons = offered[0] if offered else []
        if number > len(buttons):
            return inbound
        button = buttons[number - 1]
        return dataclasses.replace(
            inbound,
            text=button.title,
            button_payload=button.payload,
            metadata={**inbound.metadata, "typed": inbound.text},
        )

    async def recent_buttons(self, channel: Channel, address: str, lookback: int) -> list[Button]:
        """Every button of the conversation's last `lookback` outbound messages, newest first."""
        offered = await recent_buttons(
            self._session_factory, channel=channel, address=address, lookback=lookback
        )
        return [button for buttons in offered for button in buttons]

    async def came_back(
        self, channel: Channel, address: str, *, reachable: Callable[[str], Awaitable[bool]]
    ) -> None:
        """Send what waited for a customer who is connected again (later, if it must).

        With the store away, tried again in the background while `reachable` says they are
        still there: the customer is here now and will not reconnect just to ask again.
        """
        try:
            await self._flush(channel, address)
        except Exception as error:
            # No address in logs or task names (which reach the logs): a web chat address is
            # the session's secret.
            logger.warning("flush.deferred channel=%s error=%s", channel, type(error).__name__)
            self._background.spawn(
                self._flush_later(channel, address, reachable), name=f"{channel}-flush"
            )

    async def _flush_later(
        self, channel: Channel, address: str, reachable: Callable[[str], Awaitable[bool]]
    ) -> None:
        """Retry the flush, backing off, until it is done or the customer has gone."""
        delay = FLUSH_RETRY_SECONDS
        while True:
            await asyncio.sleep(delay)
            if not await reachable(address):
                return  # gone again: the next reconnect sends it
            try:
                await self._flush(channel, address)
            except Exception as error:
                logger.debug("flush.failed channel=%s error=%s", channel, type(error).__name__)
                delay = min(delay * 2, FLUSH_MAX_RETRY_SECONDS)
            else:
                logger.info("flush.resumed channel=%s", channel)
                return

    async def _flush(self, channel: Channel, address: str) -> None:
        async with self._session_factory() as session:
            conversation_id = await session.scalar(
                select(Conversation.id).where(
                    Conversation.channel == channel, Conversation.address == address
                )
            )
        if conversation_id is not None:
            await self._outbox.flush_conversation(conversation_id)


async def _awaiting(work: Awaitable[None]) -> None:
    await work
