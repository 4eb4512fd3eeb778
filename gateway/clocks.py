"""Building the response clocks and the supervisor alerts from the settings (composition root)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.business_hours import TeamHours
from bot.business_hours_file import load_team_hours
from bot.policy import ResponseTargets
from bot.response_clock import ResponseClock
from bot.settings import Settings
from bot.store.models import AlertTarget
from handoff.alerts.outbox import AlertOutbox
from handoff.alerts.raising import AlertRaiser
from handoff.alerts.senders import AlertSender, EmailSender, SmtpServer, WebhookSender


def response_clock(settings: Settings, targets: ResponseTargets) -> ResponseClock:
    """Business hours from BUSINESS_HOURS_FILE (empty: every hour counts) with the SLA_*
    targets."""
    hours = (
        load_team_hours(settings.BUSINESS_HOURS_FILE)
        if settings.BUSINESS_HOURS_FILE
        else TeamHours.always_open()
    )
    return ResponseClock(
        hours=hours,
        first_response=targets,
        next_response=timedelta(hours=settings.SLA_NEXT_RESPONSE_HOURS),
        resolution=timedelta(hours=settings.SLA_RESOLUTION_HOURS),
        at_risk_fraction=settings.SLA_AT_RISK_FRACTION,
    )


def alert_senders(settings: Settings) -> dict[AlertTarget, AlertSender]:
    """The targets the settings configure: the webhook, email, both or none."""
    senders: dict[AlertTarget, AlertSender] = {}
    if settings.ALERT_WEBHOOK_URL and settings.ALERT_WEBHOOK_SECRET:
        senders[AlertTarget.WEBHOOK] = WebhookSender(
            url=settings.ALERT_WEBHOOK_URL,
            secret=settings.ALERT_WEBHOOK_SECRET,
            timeout=settings.ALERT_SEND_TIMEOUT_SECONDS,
        )
    if settings.SMTP_URL and settings.ALERT_EMAIL_FROM:
        senders[AlertTarget.EMAIL] = EmailSender(
            server=SmtpServer.from_url(settings.SMTP_URL, starttls=settings.SMTP_STARTTLS),
            sender=settings.ALERT_EMAIL_FROM,
            recipients=settings.alert_email_recipients,
            timeout=settings.ALERT_SEND_TIMEOUT_SECONDS,
        )
    return senders


def alerting(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> tuple[AlertRaiser, AlertOutbox]:
    senders = alert_senders(settings)
    raiser = AlertRaiser(targets=tuple(senders))
    outbox = AlertOutbox(session_factory, senders, console_base_url=settings.PUBLIC_BASE_URL)
    return raiser, outbox
