"""Twilio's Messages API through the twilio library's own async client.

The library raises one exception type for every HTTP error and keeps no response headers on
it, so the Retry-After of a 429 or 503 is caught on its way past (an aiohttp trace hook) and
read back in the same task. Errors become outbox outcomes: passing faults are retried, what
Twilio will never accept fails with its error code recorded.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import SimpleNamespace
from typing import Any

import aiohttp

# Imported now, at startup: the client imports Twilio's API tree on first use, which would
# hold the event loop for about 0.1 s during the first send.
import twilio.rest.api  # noqa: F401
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.sending import Failed, Outcome, RetryLater

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 15.0
# How many of a number's latest messages are read to settle a send in doubt (Twilio lists the
# newest first; a customer receives far fewer than this between a crash and the retry).
RECENT_MESSAGES_READ = 50
MAX_RETRY_AFTER_SECONDS = 3600.0
UNSUBSCRIBED = 21610  # the recipient replied STOP to Twilio itself

# The Retry-After of the last response seen by the current task (see module docstring).
_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "twilio_retry_after", default=None
)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message as Twilio's Messages list shows it."""

    sid: str
    body: str
    created_at: datetime | None


class TwilioMessages:
    """Creates messages through Twilio's REST API; the HTTP session is opened on first use."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base_url: str) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_base_url = api_base_url
        self._http: Any = None
        self._client: Any = None

    @property
    def configured(self) -> bool:
        return bool(self._account_sid and self._auth_token)

    def _messages(self) -> Any:
        if self._client is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_end.append(_note_retry_after)
            # The library logs every request and its headers at INFO; our own events suffice.
            http_logger = logging.getLogger(f"{__name__}.http")
            http_logger.setLevel(logging.WARNING)
            self._http = AsyncTwilioHttpClient(trace_configs=[trace], logger=http_logger)
            client = Client(
                username=self._account_sid,
                password=self._auth_token,
                account_sid=self._account_sid,
                http_client=self._http,
            )
            # Every Messages call goes through the `api` domain; point it at the configured
            # base URL (a proxy, or a local stand-in in tests).
            client.api.base_url = self._api_base_url
            self._client = client
        return self._client.messages

    async def create(self, **params: Any) -> str:
        """Create one message; return its SID. Raises what the library and network raise."""
        _retry_after.set(None)
        messages = self._messages()
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            instance = await messages.create_async(**params)
        return str(instance.sid)

    async def recent(self, *, to: str, from_: str) -> list[SentMessage]:
        """The latest messages sent from `from_` to `to`, as Twilio lists them (newest first)."""
        messages = self._messages()
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            found = await messages.list_async(to=to, from_=from_, limit=RECENT_MESSAGES_READ)
        return [
            SentMessage(sid=str(m.sid), body=m.body or "", created_at=m.date_created) for m in found
        ]

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


async def _note_retry_after(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestEndParams,
) -> None:
    _retry_after.set(parse_retry_after(params.response.headers.get("Retry-After")))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped at an hour."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def error_code(error: BaseException) -> int | None:
    """Twilio's error code (21211, 63016 …) when the error came from Twilio's API."""
    if isinstance(error, TwilioRestException | TwilioServiceException):
        code = error.code
        return int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    return None


def outcome_of(error: BaseException) -> Outcome:
    """What the outbox should do after `error`: retry a passing fault, fail a permanent one."""
    if isinstance(error, TwilioRestException | TwilioServiceException):
        status = int(error.status)
        detail = error.msg if isinstance(error, TwilioRestException) else error.title
        described = f"Twilio error {error.code} (HTTP {status}): {detail}"
        if status == 429 or status >= 500:
            return RetryLater(error=described, retry_after=_retry_after.get())
        if status == 401:
            # Wrong credentials fail every message alike: keep them until someone fixes it.
            return RetryLater(error=f"{described}; check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        return Failed(error=described)
    if isinstance(error, aiohttp.ClientConnectorError):
        # No connection was made, so Twilio cannot have the message.
        return RetryLater(error=f"network error: {type(error).__name__}: {error}")
    if isinstance(error, aiohttp.ClientError | TimeoutError | OSError):
        # The request may have reached Twilio before the answer was lost.
        return RetryLater(error=f"network error: {type(error).__name__}: {error}", in_doubt=True)
    if isinstance(error, TwilioException):
        return RetryLater(error=f"Twilio client error: {type(error).__name__}: {error}")
    raise error
