"""The SLA monitor: a background job that keeps the 24-hour promise visible and enforced.

Every `interval` seconds, in exactly one gateway instance (a job lease in the store, see
`handoff.leases`), it:
- gives every open handoff its record and response windows in business time, stops the windows
  a reply accepted by the channel answered, marks the open ones at risk (75 % of the window
  gone) and breached (window gone), escalating breached ones to the supervisors' tier
  (`handoff.sla`);
- flags follow-ups past their due date (`handoff.follow_ups`);
- raises a supervisor alert with each mark and flag, once (`handoff.alerts`);
- sets away the reps whose console has been closed too long, and puts back in the queue the
  unanswered conversations of reps away past the grace period (`handoff.presence`);
- closes the bot-only episodes that have been quiet for `episode_quiet` (`bot.episodes`);
- once a day, when RETENTION_DAYS is set, purges conversations inactive for longer.
Supervisors' consoles hear of each mark and flag at once (live hub). The clock is injectable so
tests can move time; marks are stored, so a restart neither loses nor repeats anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.episodes import close_quiet_episodes
from bot.files.store import FileStore
from bot.loop_failures import LoopFailures
from bot.policy import ResponseTargets
from bot.response_clock import ResponseClock
from bot.settings import setting_default
from bot.store.models import Presence, utcnow
from handoff.alerts.outbox import AlertOutbox
from handoff.alerts.raising import AlertRaiser
from handoff.follow_ups import flag_overdue, follow_up_event
from handoff.leases import give_up_lease, take_lease
from handoff.live import LiveEvent, LiveHub, queue_changed
from handoff.presence import PresenceRules, presence_changed, return_from_away, set_idle_reps_away
from handoff.retention import TrackerEraser, purge_inactive
from handoff.sla import SlaMark, SlaPolicy, check_open_handoffs, complete_closed_windows

logger = logging.getLogger(__name__)

SLA_JOB = "sla-monitor"
RETENTION_JOB = "retention-purge"
RETENTION_EVERY = timedelta(days=1)


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def sla_event(mark: SlaMark) -> LiveEvent:
    return LiveEvent(
        "sla",
        mark.conversation_id,
        {"mark": mark.kind, "escalated": mark.escalated, "window": str(mark.window)},
    )


@dataclass
class TickReport:
    """What one tick did (None of it when another instance holds the lease)."""

    ran: bool
    marks: list[SlaMark] = field(default_factory=list)
    overdue_follow_ups: int = 0
    set_away: list[int] = field(default_factory=list)  # reps
    returned: list[int] = field(default_factory=list)  # conversations back in the queue
    closed_episodes: int = 0
    purged_conversations: int | None = None


@dataclass
class SlaMonitor:
    session_factory: async_sessionmaker[AsyncSession]
    live: LiveHub | None = None
    targets: ResponseTargets = field(default_factory=ResponseTargets.defaults)
    interval: float = setting_default("SLA_MONITOR_INTERVAL_SECONDS")
    at_risk_fraction: float = setting_default("SLA_AT_RISK_FRACTION")
    retention_days: int | None = None
    episode_quiet: timedelta = field(
        default_factory=lambda: timedelta(hours=setting_default("EPISODE_QUIET_HOURS"))
    )
    # Retention reaches Rasa's tracker store too (handoff/retention.py).
    erase_tracker: TrackerEraser | None = None
    files: FileStore | None = None  # files of purged messages go too
    # Reps without a console go away; an away rep's unanswered conversations go back.
    presence: PresenceRules | None = field(default_factory=PresenceRules)
    clock: Callable[[], datetime] = utcnow
    holder: str = field(default_factory=_holder_id)
    # Business hours and the next-response and resolution targets; None: every hour counts,
    # with `targets` and `at_risk_fraction` (bot/response_clock.py).
    response_clock: ResponseClock | None = None
    # Supervisor alerts raised with the marks and flags; the alert outbox is woken to send them.
    alerts: AlertRaiser | None = None
    alert_outbox: AlertOutbox | None = None

    @property
    def _policy(self) -> SlaPolicy:
        clock = self.response_clock or ResponseClock(
            first_response=self.targets, at_risk_fraction=self.at_risk_fraction
        )
        return SlaPolicy(clock)

    @property
    def lease_ttl(self) -> timedelta:
        # Long enough to survive a slow tick, short enough that a dead holder's duty passes
        # to another instance within a few intervals.
        return timedelta(seconds=max(self.interval * 3, 30.0))

    async def tick(self) -> TickReport:
        """Run one round if this instance holds (or takes) the lease."""
        now = self.clock()
        if not await take_lease(
            self.session_factory, job=SLA_JOB, holder=self.holder, now=now, ttl=self.lease_ttl
        ):
            return TickReport(ran=False)
        report = TickReport(ran=True)
        report.marks = await check_open_handoffs(
            self.session_factory, now=now, policy=self._policy, alerts=self.alerts
        )
        await complete_closed_windows(self.session_factory, policy=self._policy)
        flagged = await flag_overdue(self.session_factory, now=now, alerts=self.alerts)
        if self.alert_outbox is not None and (report.marks or flagged):
            self.alert_outbox.wake()
        report.overdue_follow_ups = len(flagged)
        if self.presence is not None:
            report.set_away = await set_idle_reps_away(
                self.session_factory, rules=self.presence, now=now
            )
            report.returned = await return_from_away(
                self.session_factory, rules=self.presence, now=now
            )
        report.closed_episodes = await close_quiet_episodes(
            self.session_factory, now=now, quiet=self.episode_quiet
        )
        if self.live is not None:
            for mark in report.marks:
                self.live.publish(sla_event(mark))
                self.live.publish(queue_changed(mark.conversation_id))
            for wrap in flagged:
                self.live.publish(follow_up_event(wrap, what="overdue"))
            for rep_id in report.set_away:
                self.live.publish(presence_changed(rep_id, Presence.AWAY))
            for conversation_id in report.returned:
                self.live.publish(queue_changed(conversation_id))
        if self.retention_days is not None and await take_lease(
            self.session_factory,
            job=RETENTION_JOB,
            holder=self.holder,
            now=now,
            ttl=RETENTION_EVERY,
            renew=False,
        ):
            purge = await purge_inactive(
                self.session_factory,
                older_than_days=self.retention_days,
                actor="system",
                now=now,
                erase_tracker=self.erase_tracker,
                files=self.files,
            )
            report.purged_conversations = purge.counts["conversations"]
        return report

    async def run(self) -> None:
        """Tick every `interval` seconds until cancelled; a failed tick is logged, not fatal."""
        logger.info("sla_monitor.started holder=%s interval=%s", self.holder, self.interval)
        failures = LoopFailures(logger, "sla_monitor.tick_failed")
        try:
            while True:
                try:
                    await self.tick()
                    failures.succeeded()
                except Exception as error:
                    failures.failed(error)
                await asyncio.sleep(self.interval)
        finally:
            await asyncio.shield(self._give_up())

    async def _give_up(self) -> None:
        try:
            await give_up_lease(self.session_factory, job=SLA_JOB, holder=self.holder)
        except Exception:  # shutting down: the lease simply runs out instead
            logger.warning("sla_monitor.lease_not_released holder=%s", self.holder)
