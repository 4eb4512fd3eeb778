"""Sending an alert to one target: the supervisors' webhook (signed JSON) or email (SMTP).

A sender answers with the outcome types of the customer outbox (bot/sending.py): `Sent`,
`RetryLater` (a passing failure: retried with backoff) or `Failed` (retrying cannot help).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import ssl
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx

from bot.sending import Failed, Outcome, RetryLater, Sent
from bot.store.models import AlertTarget
from handoff.alerts.message import alert_email, webhook_body

SIGNATURE_HEADER = "X-Caricom-Signature"
ALERT_ID_HEADER = "X-Caricom-Alert-Id"


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: 'sha256=' and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class AlertSender(Protocol):
    target: AlertTarget

    async def send(self, document: dict[str, Any]) -> Outcome: ...


@dataclass
class WebhookSender:
    """POSTs the alert as JSON with an HMAC-SHA256 signature of the exact body."""

    url: str
    secret: str
    timeout: float
    target: AlertTarget = AlertTarget.WEBHOOK
    transport: httpx.AsyncBaseTransport | None = None  # tests may route it in-process

    async def send(self, document: dict[str, Any]) -> Outcome:
        body = webhook_body(document)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self.secret),
            # Receivers may drop a repeat (a send whose answer was lost is sent again).
            ALERT_ID_HEADER: str(document["id"]),
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return RetryLater(error=f"webhook unreachable: {type(error).__name__}")
        if response.is_success:
            return Sent(provider_message_id=None)
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            return RetryLater(error=f"webhook answered {response.status_code}")
        return Failed(error=f"webhook refused the alert: {response.status_code}")


@dataclass(frozen=True)
class SmtpServer:
    """Where email goes, from SMTP_URL (smtp://user:password@host:port, or smtps://)."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str, *, starttls: bool) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:port")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=starttls and not implicit,
        )


@dataclass
class EmailSender:
    """Sends the alert as an email through SMTP (in a worker thread: smtplib blocks)."""

    server: SmtpServer
    sender: str
    recipients: list[str]
    timeout: float
    tls_context: ssl.SSLContext | None = None  # tests trust their own certificate
    target: AlertTarget = AlertTarget.EMAIL

    async def send(self, document: dict[str, Any]) -> Outcome:
        domain = self.sender.rsplit("@", 1)[-1]
        message = alert_email(
            document, sender=self.sender, recipients=self.recipients, domain=domain
        )
        try:
            await asyncio.to_thread(self._deliver, message)
        except smtplib.SMTPRecipientsRefused as error:
            return Failed(error=f"every recipient refused: {sorted(error.recipients)}")
        except smtplib.SMTPAuthenticationError as error:
            return Failed(error=f"SMTP login refused: {error.smtp_code}")
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                return Failed(error=f"SMTP refused: {error.smtp_code}")
            return RetryLater(error=f"SMTP answered {error.smtp_code}")
        except (OSError, smtplib.SMTPException) as error:
            return RetryLater(error=f"SMTP unreachable: {type(error).__name__}")
        return Sent(provider_message_id=None)

    def _deliver(self, message: Any) -> None:
        server = self.server
        context = self.tls_context or ssl.create_default_context()
        client: smtplib.SMTP
        if server.implicit_tls:
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if server.starttls:
                client.starttls(context=context)
                client.ehlo()
            if server.username is not None:
                client.login(server.username, server.password or "")
            client.send_message(message)
