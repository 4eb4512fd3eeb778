"""Operational metrics in Prometheus' text format (`GET /metrics`).

Counters and the turn-latency histogram are counted as things happen, in a registry of the
app's own (several apps in one process, as in tests, do not share counts). Queue depth and the
turns waiting (backpressure) are read from the store at scrape time, so they are right whichever
instance or worker did the work.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lifecycle import HUMAN_STATES
from bot.store.models import Conversation
from bot.turn_claims import Backlog

TURN_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The gateway's counters; one instance per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "caricom_messages",
            "Messages logged, by channel and direction.",
            ["channel", "direction"],
            registry=self.registry,
        )
        self.turns = Counter(
            "caricom_turns",
            "Customer messages routed, by outcome (answered, handoff, unavailable, human).",
            ["outcome"],
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "caricom_turn_seconds",
            "Time from routing a customer message to committing the bot's answer.",
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self.handoffs = Counter(
            "caricom_handoffs",
            "Conversations handed to a person, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.outbound_failures = Counter(
            "caricom_outbound_failures",
            "Outbound sends that failed, by channel and kind (retry or permanent).",
            ["channel", "kind"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "caricom_queue_depth",
            "Conversations waiting for or owned by a person, by state and tier.",
            ["state", "tier"],
            registry=self.registry,
        )
        self.turns_waiting = Gauge(
            "caricom_turns_waiting",
            "Customer messages stored whose turn is not done yet (backpressure).",
            registry=self.registry,
        )
        self.turn_oldest_waiting = Gauge(
            "caricom_turn_oldest_waiting_seconds",
            "How long the oldest customer message waiting for its turn has waited.",
            registry=self.registry,
        )

    def record_backlog(self, backlog: Backlog) -> None:
        """Turns waiting in the store: what workers (or the gateway) have not got to yet."""
        self.turns_waiting.set(backlog.waiting)
        self.turn_oldest_waiting.set(backlog.oldest_seconds)

    async def refresh_from_store(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        """Read the gauges that describe the store rather than this process."""
        async with session_factory() as session:
            rows = await session.execute(
                select(Conversation.state, Conversation.tier, func.count())
                .where(Conversation.state.in_(HUMAN_STATES))
                .group_by(Conversation.state, Conversation.tier)
            )
            self.queue_depth.clear()
            for state, tier, count in rows:
                self.queue_depth.labels(state=str(state), tier=str(tier or 1)).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus scrape; with METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
    services = request.app.state.services
    token = services.settings.METRICS_TOKEN
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse("metrics need the bearer token", status_code=401)
    collected: Metrics = services.metrics
    await collected.refresh_from_store(services.session_factory)
    collected.record_backlog(await services.router.backlog())
    return Response(collected.render(), media_type=CONTENT_TYPE_LATEST)
