"""Turn claims: which gateway instance routes a customer message, and for how long.

Several instances may share the store, so a message is claimed before it is routed: a
conditional UPDATE from `pending` (or `routing` whose lease ran out) to `routing` with a lease,
and a row count that says who won. One whose router died mid-turn is taken over once its lease
runs out (`pending_conversations`). Each claim counts an attempt, so a message whose turn fails
every time can be given up on (bot/router.py).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Channel
from bot.store.models import Conversation, Message, TurnStatus, utcnow

logger = logging.getLogger("bot.router")  # turn events read as one story in the logs


@dataclass(frozen=True, slots=True)
class Backlog:
    """Turns waiting: the backpressure operators watch (`/metrics`, `/readyz`)."""

    waiting: int  # customer messages stored and not yet answered or handed on
    oldest_seconds: float  # how long the oldest of them has waited; 0 with none


class TurnClaims:
    """Claims, releases and finds customer messages waiting to be routed."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        lease: timedelta,
    ) -> None:
        self._session_factory = session_factory
        self._turn_lease = lease

    @property
    def lease(self) -> timedelta:
        """How long a claim holds before another instance may take the message over."""
        return self._turn_lease

    async def pending_conversations(
        self,
        *,
        older_than: timedelta = timedelta(0),
        channels: Collection[Channel] | None = None,
        untried_only: bool = False,
    ) -> list[int]:
        """Conversations with a customer message no instance is routing.

        Stored at least `older_than` ago and not yet routed (a restart, or a lost `process`
        call), or claimed by an instance whose lease ran out (it died mid-turn). `channels`:
        only conversations on those. `untried_only`: only messages never taken for routing, so
        a worker looking for new work often does not retry a failing turn as often
        (failures are retried by the slower sweep, as on the gateway).
        """
        now = utcnow()
        pending = and_(
            Message.turn_status == TurnStatus.PENDING,
            Message.created_at <= now - older_than,
        )
        if untried_only:
            waiting = and_(pending, Message.route_attempts == 0)
        else:
            waiting = or_(
                pending,
                and_(
                    Message.turn_status == TurnStatus.ROUTING,
                    Message.turn_lease_until < now,
                ),
            )
        query = select(Message.conversation_id).where(waiting).distinct()
        if channels is not None:
            query = query.join(Conversation, Conversation.id == Message.conversation_id).where(
                Conversation.channel.in_(list(channels))
            )
        async with self._session_factory() as session:
            rows = await session.execute(query)
            return list(rows.scalars())

    async def backlog(self) -> Backlog:
        """Customer messages whose turn is not done yet, and how long the oldest has waited."""
        async with self._session_factory() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(Message.created_at)).where(
                        Message.turn_status.in_([TurnStatus.PENDING, TurnStatus.ROUTING])
                    )
                )
            ).one()
        if oldest is None:
            return Backlog(waiting=0, oldest_seconds=0.0)
        if oldest.tzinfo is None:  # SQLite hands aggregates back naive (stored as UTC)
            oldest = oldest.replace(tzinfo=UTC)
        waited = (utcnow() - oldest).total_seconds()
        return Backlog(waiting=int(count), oldest_seconds=max(waited, 0.0))

    async def claim(self, message_id: int, now: datetime) -> int | None:
        """Take the message for this instance: of instances racing, exactly one gets it.

        Returns which claim of the message this is (1 the first), None when another has it.
        """
        async with self._session_factory() as session, session.begin():
            result = await session.execute(
                update(Message)
                .where(
                    Message.id == message_id,
                    or_(
                        Message.turn_status == TurnStatus.PENDING,
                        and_(
                            Message.turn_status == TurnStatus.ROUTING,
                            Message.turn_lease_until < now,
                        ),
                    ),
                )
                .values(
                    turn_status=TurnStatus.ROUTING,
                    turn_lease_until=now + self._turn_lease,
                    # Counted in the claim itself: an instance that dies mid-turn has used one.
                    route_attempts=Message.route_attempts + 1,
                )
                .returning(Message.route_attempts)
                .execution_options(synchronize_session=False)
            )
            attempt = result.scalar_one_or_none()
        if attempt is None:
            logger.debug("turn.claimed_elsewhere message_id=%s", message_id)
        return attempt

    async def release(self, message_id: int, *, refund_attempt: bool) -> None:
        """Hand a claimed message back (unless its turn was committed meanwhile).

        Best effort: if the store refuses, the lease runs out and the sweep takes it then.
        """
        attempts = Message.route_attempts - 1 if refund_attempt else Message.route_attempts
        try:
            async with self._session_factory() as session, session.begin():
                await session.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.turn_status == TurnStatus.ROUTING)
                    .values(
                        turn_status=TurnStatus.PENDING,
                        turn_lease_until=None,
                        route_attempts=attempts,
                    )
                    .execution_options(synchronize_session=False)
                )
        except Exception as error:
            logger.warning(
                "turn.release_failed message_id=%s error=%s", message_id, type(error).__name__
            )
            return
        logger.info("turn.released message_id=%s", message_id)
