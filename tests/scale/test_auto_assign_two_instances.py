"""Auto-assignment with two gateway instances on one PostgreSQL store: both instances' assigners
run at once (their loops and by hand), and still every conversation has one owner and no rep
goes past a limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.messages import Channel
from bot.store.models import AuditEvent, Conversation, ConversationState, Presence
from tests.conftest import make_settings
from tests.handoff.factories import make_queued, make_rep
from tests.scale.conftest import TEST_REDIS_URL
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.net import eventually
from tests.support.rasa_standin import running_rasa_standin

pytestmark = pytest.mark.postgres
S = ConversationState
REPS = 8
CHAT_LIMIT = 2
MESSAGING_LIMIT = 3


@pytest.fixture
async def two_gateways(
    postgres_url: str, redis_prefix: str
) -> AsyncIterator[tuple[LiveGateway, LiveGateway]]:
    async with running_rasa_standin() as rasa:
        settings = make_settings(
            postgres_url,
            rasa.url,
            REDIS_URL=TEST_REDIS_URL,
            REDIS_PREFIX=redis_prefix,
            AUTO_ASSIGN_INTERVAL_SECONDS=0.05,  # both instances' loops pass all the time
            REP_MAX_CHAT=CHAT_LIMIT,
            REP_MAX_MESSAGING=MESSAGING_LIMIT,
        )
        async with running_gateway(settings) as a, running_gateway(settings) as b:
            yield a, b


async def test_two_instances_assigning_at_once_never_make_two_owners(
    two_gateways: tuple[LiveGateway, LiveGateway],
) -> None:
    a, b = two_gateways
    sessions = a.services.session_factory
    async with sessions() as session:
        for i in range(60):
            await make_queued(
                session,
                address=f"+1246555{i:04d}" if i % 2 else f"web-{i}",
                channel=Channel.SMS if i % 2 else Channel.WEBCHAT,
            )
        reps = [
            await make_rep(session, f"rep-{i}", teams=["general"], presence=Presence.AVAILABLE)
            for i in range(REPS)
        ]
    assert a.services.assigner is not None and b.services.assigner is not None
    # And by hand, on both instances at once, while their loops run.
    await asyncio.gather(
        *(a.services.assigner.assign_waiting() for _ in range(3)),
        *(b.services.assigner.assign_waiting() for _ in range(3)),
    )
    full = REPS * (CHAT_LIMIT + MESSAGING_LIMIT)

    async def assigned() -> int:
        async with sessions() as session:
            return int(
                await session.scalar(select(func.count()).where(Conversation.state == S.ASSIGNED))
                or 0
            )

    await eventually(lambda: _equals(assigned(), full), timeout=10)
    await asyncio.sleep(0.3)  # several more passes of both loops: nothing changes
    assert await assigned() == full
    async with sessions() as session:
        claims = Counter(
            await session.scalars(
                select(AuditEvent.conversation_id).where(AuditEvent.to_state == S.ASSIGNED)
            )
        )
        held = Counter(
            (owner, channel)
            for owner, channel in await session.execute(
                select(Conversation.assigned_rep_id, Conversation.channel).where(
                    Conversation.state == S.ASSIGNED
                )
            )
        )
    assert set(claims.values()) == {1}, "a conversation was assigned twice"
    for rep in reps:
        assert held[(rep.id, Channel.WEBCHAT)] == CHAT_LIMIT
        assert held[(rep.id, Channel.SMS)] == MESSAGING_LIMIT


async def _equals(value: object, expected: int) -> bool:
    return await value == expected  # type: ignore[misc]
