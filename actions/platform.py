"""The platform's records, read through its contract (docs/platform-api.yaml, /v1), and its
one-time codes for customers whose channel proves nothing about them.

Each answer that looks something up waits on this client inside a customer's turn, so it is
built to give up quickly: a short timeout per request, one retry of a GET that failed in a way
worth retrying (a timeout, a dropped connection, a 5xx), an overall deadline for the whole call,
and a circuit breaker that stops asking a platform that keeps failing for a while. Whatever goes
wrong surfaces as `PlatformUnavailable`, and the action answers with today's pointer instead.

An unknown number is not a failure: the platform answers 404 and the client returns None.
Nothing here logs a phone number, an email address or a record's contents.
"""

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple, TypeVar

import aiohttp

from actions.circuit_breaker import CircuitBreaker

T = TypeVar("T")

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"
URL_VARIABLE = "PLATFORM_API_URL"
TOKEN_VARIABLE = "PLATFORM_API_TOKEN"  # noqa: S105 (the name of a variable, not a secret)
# A turn waits on the platform for at most DEADLINE seconds (two attempts of ATTEMPT_TIMEOUT
# and the pause between them fit inside it), so the customer hears back within about 3 s.
ATTEMPT_TIMEOUT = 1.2
RETRY_PAUSE = 0.1
DEADLINE = 2.5


class PlatformUnavailable(Exception):
    """The platform could not answer in time (or answered nonsense); answer without it."""


@dataclass(frozen=True)
class Order:
    number: Text
    status: Text
    phone: Text  # E.164; compared with the channel's phone, never shown or logged
    items: List[Dict[Text, Any]]
    carrier: Optional[Text]
    tracking_number: Optional[Text]
    expected_delivery: Optional[Text]  # ISO date


@dataclass(frozen=True)
class Refund:
    order_number: Text
    status: Text
    amount: Text  # already formatted with its currency, e.g. "XCD 45.00"
    expected_date: Optional[Text]


@dataclass(frozen=True)
class OrderSummary:
    number: Text
    status: Text
    placed_at: Text


@dataclass(frozen=True)
class Invoice:
    number: Text
    order_number: Text
    issued_at: Text
    total: Text
    pdf_url: Text
    status: Optional[Text] = None  # open, paid, overdue, void (contract 1.1; older: absent)


@dataclass(frozen=True)
class CodeSent:
    """A one-time code the platform sent to the contact on file for an order."""

    verification_id: Text
    sent_to: Text  # the contact, masked by the platform ("k***@example.com", "+1******0123")
    expires_at: Text  # ISO date-time with its offset


class TooManyCodes(Exception):
    """The platform refused to send another code for this order for now (its hourly limit)."""


@dataclass(frozen=True)
class AccountState:
    exists: bool
    locked: bool
    masked_email: Optional[Text]


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not (timeout, connection, 5xx)."""


class PlatformClient:
    """Reads orders, refunds, invoices and account states from the platform's /v1 contract, and
    has it send and check one-time codes."""

    def __init__(
        self,
        base_url: Text,
        token: Text,
        *,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        deadline: float = DEADLINE,
        breaker: Optional[CircuitBreaker] = None,
    ) -> None:
        self.configured_for = (base_url, token)
        self._base_url = base_url.rstrip("/") + API_PREFIX
        self._token = token
        self._attempt_timeout = attempt_timeout
        self._deadline = deadline
        self.breaker = breaker or CircuitBreaker()
        self._session: Optional[aiohttp.ClientSession] = None
        self._session_loop: Optional[asyncio.AbstractEventLoop] = None

    async def order(self, number: Text) -> Optional[Order]:
        """The order, or None when the platform does not know the number."""
        body = await self._get(f"/orders/{number}")
        if body is None:
            return None
        return _parse(
            lambda: Order(
                number=str(body["number"]),
                status=str(body["status"]),
                phone=str(body["phone"]),
                items=list(body.get("items") or []),
                carrier=body.get("carrier"),
                tracking_number=body.get("tracking_number"),
                expected_delivery=body.get("expected_delivery"),
            )
        )

    async def refund(self, order_number: Text) -> Optional[Refund]:
        """The refund on an order, or None when there is none (or no such order)."""
        body = await self._get(f"/orders/{order_number}/refund")
        if body is None:
            return None
        return _parse(
            lambda: Refund(
                order_number=str(body["order_number"]),
                status=str(body["status"]),
                amount=str(body["amount"]),
                expected_date=body.get("expected_date"),
            )
        )

    async def invoices(self, order_number: Text) -> Optional[List[Invoice]]:
        """The order's invoices (newest first), or None when there is no such order."""
        body = await self._get(f"/orders/{order_number}/invoices")
        if body is None:
            return None
        return _parse(
            lambda: [
                Invoice(
                    number=str(i["number"]),
                    order_number=str(i["order_number"]),
                    issued_at=str(i["issued_at"]),
                    total=str(i["total"]),
                    pdf_url=str(i["pdf_url"]),
                    status=i.get("status"),
                )
                for i in body["invoices"]
            ]
        )

    async def recent_orders(
        self, *, phone: Optional[Text] = None, email: Optional[Text] = None
    ) -> List[OrderSummary]:
        """The customer's recent orders, newest first (none for an unknown phone or email)."""
        if (phone is None) == (email is None):
            raise ValueError("give exactly one of phone or email")
        params = {"phone": phone} if phone is not None else {"email": str(email)}
        body = await self._get("/orders", params=params)
        if body is None:
            return []
        return _parse(
            lambda: [
                OrderSummary(
                    number=str(o["number"]), status=str(o["status"]), placed_at=str(o["placed_at"])
                )
                for o in body["orders"]
            ]
        )

    async def account(
        self, *, phone: Optional[Text] = None, email: Optional[Text] = None
    ) -> AccountState:
        """Whether an account exists for the phone or email, is locked, and its masked email."""
        if (phone is None) == (email is None):
            raise ValueError("give exactly one of phone or email")
        params = {"phone": phone} if phone is not None else {"email": str(email)}
        body = await self._get("/accounts/state", params=params)
        if body is None:
            return AccountState(exists=False, locked=False, masked_email=None)
        return _parse(
            lambda: AccountState(
                exists=bool(body["exists"]),
                locked=bool(body["locked"]),
                masked_email=body.get("masked_email"),
            )
        )

    async def send_code(self, order_number: Text, contact: Text) -> Optional[CodeSent]:
        """Ask the platform to send a one-time code to the order's contact on file, if
        `contact` (an email or E.164 phone the customer named) is that contact; None when it is
        not, or there is no such order (one answer for both). TooManyCodes past its limit."""
        status, body = await self._post(
            f"/orders/{order_number}/verifications", {"contact": contact}, allowed=(201, 404, 429)
        )
        if status == 404:
            return None
        if status == 429:
            raise TooManyCodes()
        return _parse(
            lambda: CodeSent(
                verification_id=str(body["verification_id"]),
                sent_to=str(body["sent_to"]),
                expires_at=str(body["expires_at"]),
            )
        )

    async def check_code(self, verification_id: Text, code: Text) -> Text:
        """The platform's verdict on a code typed for a verification: `approved`, `wrong_code`,
        `expired` or `too_many_attempts` (an unknown verification counts as expired)."""
        status, body = await self._post(
            f"/verifications/{verification_id}/checks", {"code": code}, allowed=(200, 404)
        )
        if status == 404:
            return "expired"
        return _parse(lambda: str(body["status"]))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(
        self, path: Text, params: Optional[Dict[Text, Text]] = None
    ) -> Optional[Dict[Text, Any]]:
        """The JSON body of a GET; None on 404; PlatformUnavailable on anything else."""
        # The path holds an order number at most: no phone or email (those go in params).
        return await self._guarded(path, lambda: self._get_with_retry(path, params))

    async def _post(
        self, path: Text, payload: Dict[Text, Text], *, allowed: Tuple[int, ...]
    ) -> Tuple[int, Dict[Text, Any]]:
        """The status and JSON body of a POST answered with one of `allowed`; anything else is
        PlatformUnavailable. Tried once: sending a code or checking one is not idempotent (a
        second attempt could send a second code or count a try twice)."""
        # The path holds an order number or a verification id; the body (a contact, a code)
        # is never logged.
        return await self._guarded(path, lambda: self._post_once(path, payload, allowed))

    async def _guarded(self, path: Text, call: Callable[[], Awaitable[T]]) -> T:
        """`call` through the circuit breaker, within the client's deadline."""
        if not self.breaker.allow():
            raise PlatformUnavailable("circuit open")
        try:
            result = await asyncio.wait_for(call(), self._deadline)
        except asyncio.CancelledError:
            # The caller's own deadline ran out (a lookup of several calls): a half-open
            # breaker must not wait forever for this trial's verdict.
            self.breaker.abandoned()
            raise
        except (PlatformUnavailable, asyncio.TimeoutError) as error:
            self.breaker.failed()
            logger.warning(
                "platform.unavailable path=%s reason=%s", path, str(error) or "timed out"
            )
            raise PlatformUnavailable(str(error) or "timed out") from error
        self.breaker.succeeded()
        return result

    async def _post_once(
        self, path: Text, payload: Dict[Text, Text], allowed: Tuple[int, ...]
    ) -> Tuple[int, Dict[Text, Any]]:
        session = self._session_for_this_loop()
        try:
            async with session.post(
                self._base_url + path,
                json=payload,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self._attempt_timeout),
            ) as response:
                if response.status not in allowed:
                    raise PlatformUnavailable(f"HTTP {response.status}")
                body = await response.json(content_type=None)
        except (asyncio.TimeoutError, aiohttp.ClientConnectionError) as error:
            raise PlatformUnavailable(type(error).__name__) from error
        except (aiohttp.ContentTypeError, ValueError) as error:
            raise PlatformUnavailable("the answer was not JSON") from error
        if not isinstance(body, dict):
            raise PlatformUnavailable("the answer was not a JSON object")
        return response.status, body

    async def _get_with_retry(
        self, path: Text, params: Optional[Dict[Text, Text]]
    ) -> Optional[Dict[Text, Any]]:
        # GETs are idempotent, so a second attempt is safe; a third would not fit the deadline.
        try:
            return await self._attempt(path, params)
        except _Retryable:
            await asyncio.sleep(RETRY_PAUSE)
        try:
            return await self._attempt(path, params)
        except _Retryable as error:
            raise PlatformUnavailable(str(error)) from error

    async def _attempt(
        self, path: Text, params: Optional[Dict[Text, Text]]
    ) -> Optional[Dict[Text, Any]]:
        session = self._session_for_this_loop()
        try:
            async with session.get(
                self._base_url + path,
                params=params,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self._attempt_timeout),
            ) as response:
                if response.status == 404:
                    return None
                if response.status >= 500:
                    raise _Retryable(f"HTTP {response.status}")
                if response.status != 200:
                    # 401/403/400: a configuration fault that another attempt will not mend.
                    raise PlatformUnavailable(f"HTTP {response.status}")
                body = await response.json(content_type=None)
        except (asyncio.TimeoutError, aiohttp.ClientConnectionError) as error:
            raise _Retryable(type(error).__name__) from error
        except (aiohttp.ContentTypeError, ValueError) as error:
            raise PlatformUnavailable("the answer was not JSON") from error
        if not isinstance(body, dict):
            raise PlatformUnavailable("the answer was not a JSON object")
        return body

    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        # A session belongs to the event loop it was made in: the action server has one loop,
        # but each `asyncio.run` (tests, scripts) has its own.
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._session_loop = loop
        return self._session


def _parse(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except (KeyError, TypeError, ValueError) as error:
        raise PlatformUnavailable("the answer does not follow the contract") from error


_client: Optional[PlatformClient] = None


def platform_client() -> Optional[PlatformClient]:
    """The action server's one client (one breaker for all turns); None when not configured."""
    global _client
    url = os.environ.get(URL_VARIABLE, "").strip()
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not url or not token:
        return None
    if _client is None or _client.configured_for != (url, token):
        _client = PlatformClient(url, token)
    return _client
