"""Raising an alert: one row per (kind, subject), with an outbox row per configured target.

Raised in the same transaction as what it reports (an SLA mark, an overdue flag), so an alert
exists exactly when its cause was recorded: a crash loses neither, a restart or a second
gateway instance repeats neither (the unique (kind, subject) pair refuses a second row).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Alert, AlertDelivery, AlertKind, AlertTarget, DeliveryStatus

logger = logging.getLogger(__name__)


def handoff_subject(handoff_id: int) -> str:
    return f"handoff:{handoff_id}"


def follow_up_subject(wrap_up_id: int) -> str:
    return f"follow_up:{wrap_up_id}"


def conversation_subject(conversation_id: int, since: datetime) -> str:
    """A conversation's wait from `since` (e.g. for a language nobody available speaks)."""
    return f"conversation:{conversation_id}:{int(since.timestamp())}"


@dataclass(frozen=True)
class AlertRaiser:
    """Records alerts and queues them for the targets the settings configure."""

    targets: Sequence[AlertTarget] = ()

    async def raise_alert(
        self,
        session: AsyncSession,
        *,
        kind: AlertKind,
        subject: str,
        details: dict[str, Any],
        now: datetime,
        conversation_id: int | None = None,
    ) -> Alert | None:
        """Record the alert unless it was raised before; None when it was (caller commits)."""
        existing = await session.scalar(
            select(Alert.id).where(Alert.kind == kind, Alert.subject == subject)
        )
        if existing is not None:
            return None
        alert = Alert(
            kind=kind,
            subject=subject,
            conversation_id=conversation_id,
            details=details,
            created_at=now,
        )
        try:
            # A savepoint: another instance may insert the same alert between the look and
            # here; the unique constraint then refuses ours without undoing the caller's work.
            async with session.begin_nested():
                session.add(alert)
                await session.flush()
        except IntegrityError:
            return None
        session.add_all(
            AlertDelivery(
                alert_id=alert.id,
                target=target,
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
            for target in self.targets
        )
        logger.info(
            "alert.raised alert_id=%s kind=%s subject=%s targets=%s",
            alert.id,
            kind,
            subject,
            ",".join(self.targets) or "-",
        )
        return alert
