"""Local stand-ins of where supervisor alerts go: a webhook receiver and an SMTP server.

The webhook receiver is a real HTTP server (aiohttp) that records each POST with its headers
and can be told to fail the next requests; the SMTP server is aiosmtpd, optionally with
STARTTLS (a self-signed certificate made with openssl) and a login.
"""

from __future__ import annotations

import email
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.support.net import free_port


@dataclass
class ReceivedPost:
    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    url: str = ""
    posts: list[ReceivedPost] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to this many requests first
    refuse_with: int | None = None  # answer this status to every request

    async def handle(self, request: web.Request) -> web.Response:
        if self.refuse_with is not None:
            return web.Response(status=self.refuse_with)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503)
        self.posts.append(ReceivedPost(await request.read(), dict(request.headers)))
        return web.json_response({"ok": True})


@asynccontextmanager
async def running_webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/alerts", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    receiver.url = f"http://127.0.0.1:{port}/alerts"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@dataclass
class Mailbox:
    """What the SMTP server accepted: parsed messages and their envelopes."""

    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    tls_sessions: int = 0
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(email.message_from_bytes(content))
        self.recipients.append(list(envelope.rcpt_tos))
        if session.ssl is not None:
            self.tls_sessions += 1
        return "250 Message accepted for delivery"


@dataclass
class SmtpStandIn:
    host: str
    port: int
    mailbox: Mailbox
    client_context: ssl.SSLContext | None = None


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "smtp-key.pem", directory / "smtp-cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@contextmanager
def running_smtp_server(
    *, starttls_dir: Path | None = None, login: tuple[str, str] | None = None
) -> Iterator[SmtpStandIn]:
    """aiosmtpd on a free port; with `starttls_dir`, STARTTLS is offered and required."""
    mailbox = Mailbox()
    port = free_port()
    kwargs: dict[str, Any] = {}
    client_context = None
    if starttls_dir is not None:
        key, cert = self_signed_certificate(starttls_dir)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert, key)
        kwargs.update(tls_context=server_context, require_starttls=True)
        client_context = ssl.create_default_context(cafile=str(cert))
    if login is not None:

        def authenticate(
            server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            if ok:
                mailbox.logins.append(data.login.decode())
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticate, auth_required=True)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpStandIn("127.0.0.1", port, mailbox, client_context)
    finally:
        controller.stop()
