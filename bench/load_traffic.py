"""Simulated customers for the load test: web chat, SMS, WhatsApp and Telegram, open loop.

Messages arrive at a fixed average rate with exponential gaps whatever the system does, so a
slow system builds a backlog (turns in flight, customers added) instead of slowing the
generator. Each message goes to a customer who is not waiting for an answer, so every reply
belongs to exactly one turn: its latency is from the webhook POST (or the Socket.IO emit) to
the first reply at the vendor's API stand-in (or the `bot_uttered` event), and a reply text
that arrives twice for one turn is a duplicate delivery.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio
from aiohttp import web

from bench.questions import Question
from channels.telegram import WEBHOOK_PATH as TELEGRAM_WEBHOOK
from tests.support.telegram_standin import WEBHOOK_SECRET, TelegramStandIn
from tests.support.twilio_standin import TwilioStandIn, TwilioWebhookSender, sms, whatsapp
from tests.support.webchat_customer import WebChatCustomer

CHANNELS = ("webchat", "sms", "whatsapp", "telegram")
# Customers per channel at the start (the share of traffic follows): a few hundred
# conversations, as many on web chat as on SMS and WhatsApp together, Telegram the least.
POOL = {"webchat": 100, "sms": 60, "whatsapp": 80, "telegram": 60}
REPLY_TIMEOUT = 60.0  # a turn unanswered this long counts as "no reply"
# After its first reply a customer reads for a moment: later parts of the same answer arrive
# meanwhile and are counted with this turn, not mistaken for the answer to the next message.
SETTLE_SECONDS = 1.5
STATUS_CALLBACK_DELAY = 1.0  # Twilio reports "delivered" a moment after accepting a message

Delivered = Callable[[str, str], None]  # (customer address, reply text)


@dataclass
class ReportingTwilio(TwilioStandIn):
    """Twilio's Messages API stand-in that reports each accepted message as it arrives."""

    on_delivered: Delivered | None = None
    on_accepted: Callable[[str], None] | None = None  # the new message's Sid

    async def _create(self, request: web.Request) -> web.Response:
        response = await super()._create(request)
        if response.status == 201 and response.text is not None:
            body = json.loads(response.text)
            if self.on_delivered is not None:
                self.on_delivered(str(body["to"]), str(body["body"]))
            if self.on_accepted is not None:
                self.on_accepted(str(body["sid"]))
        return response


@dataclass
class ReportingTelegram(TelegramStandIn):
    """The Bot API stand-in that reports each sendMessage as it arrives."""

    on_delivered: Delivered | None = None

    def _message(self, chat_id: str, params: dict[str, Any]) -> dict[str, Any]:
        message = super()._message(chat_id, params)
        if self.on_delivered is not None:
            self.on_delivered(str(chat_id), str(params["text"]))
        return message


@dataclass
class Turn:
    """One customer message and what became of it."""

    channel: str
    gateway: int
    measured: bool  # False during warm-up
    sent_at: float = 0.0
    ack_ms: float | None = None
    status: int | None = None  # HTTP status of the acknowledgement (web chat: 200 once emitted)
    failure: str | None = None  # why the message was not taken: "http 503", "refused", …
    latency_ms: float | None = None
    replies: list[str] = field(default_factory=list)
    duplicates: int = 0
    answered: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Customer:
    channel: str
    number: int
    address: str  # where replies go: phone, "whatsapp:+…", chat id, web chat session id
    gateway: int  # web chat: the instance the socket is connected to
    socket: WebChatCustomer | None = None
    current: Turn | None = None
    last: Turn | None = None


@dataclass
class Tally:
    stray_replies: int = 0  # a reply to a customer with no turn at all
    late_parts: int = 0  # a new text after the settle time (counted, not an error)
    status_callbacks: Counter[str] = field(default_factory=Counter)
    generator_lag_ms: float = 0.0  # worst delay of a send behind its planned time


class Traffic:
    """Customers, the messages they send, and every reply the stand-ins see."""

    def __init__(
        self,
        *,
        gateways: list[str],
        twilio: ReportingTwilio,
        telegram: ReportingTelegram,
        http: httpx.AsyncClient,
        questions: list[Question],
        seed: int,
    ) -> None:
        self._gateways = gateways
        self._twilio = [TwilioWebhookSender(url, client=http) for url in gateways]
        self._http = http
        self._questions = questions
        self._rng = random.Random(seed)
        self._update_ids = itertools.count(1)
        self._sends = Counter[str]()  # per channel, to alternate the gateways
        self.customers: dict[str, Customer] = {}
        self._idle: dict[str, deque[Customer]] = {c: deque() for c in CHANNELS}
        self._numbers = itertools.count(1)
        self.turns: list[Turn] = []
        self.tally = Tally()
        self._tasks: set[asyncio.Task[None]] = set()
        twilio.on_delivered = telegram.on_delivered = self.delivered
        twilio.on_accepted = self._status_callback_later

    # Customers -------------------------------------------------------------------------------

    async def open(self, pool: dict[str, int] = POOL) -> None:
        """Create the starting customers; web chat ones connect (half to each gateway)."""
        created = [self._new_customer(c) for c, count in pool.items() for _ in range(count)]
        gate = asyncio.Semaphore(20)

        async def connect(customer: Customer) -> None:
            async with gate:
                await self._connect(customer)

        await asyncio.gather(*(connect(c) for c in created if c.channel == "webchat"))
        for customer in created:
            self._idle[customer.channel].append(customer)

    def _new_customer(self, channel: str) -> Customer:
        number = next(self._numbers)
        phone = f"+1246{number:07d}"
        address = {
            "sms": phone,
            "whatsapp": f"whatsapp:{phone}",
            "telegram": str(800_000_000 + number),
        }.get(channel, f"load-{number:06d}")
        customer = Customer(channel, number, address, gateway=number % len(self._gateways))
        self.customers[address] = customer
        return customer

    async def _connect(self, customer: Customer) -> None:
        socket = WebChatCustomer(session_id=customer.address)
        socket.client.on("bot_uttered", lambda data: self._webchat_reply(customer, data))
        socket.client.on("error", lambda data: self._webchat_refused(customer, data))
        try:
            await socket.connect(self._gateways[customer.gateway])
        except BaseException:
            await socket.close()
            raise
        customer.socket = socket

    def _webchat_reply(self, customer: Customer, data: Any) -> None:
        text = data.get("text") if isinstance(data, dict) else None
        self.delivered(customer.address, str(text))

    def _webchat_refused(self, customer: Customer, data: Any) -> None:
        turn = customer.current
        if turn is not None and turn.failure is None:
            turn.failure = "refused"
            turn.answered.set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        sockets = [c.socket for c in self.customers.values() if c.socket is not None]
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)

    # Replies ---------------------------------------------------------------------------------

    def delivered(self, address: str, text: str) -> None:
        """A reply reached `address` (at a vendor stand-in, or a web chat socket)."""
        arrived = time.perf_counter()
        customer = self.customers.get(address)
        if customer is None:
            self.tally.stray_replies += 1
            return
        turn = customer.current
        if turn is None:
            # Between turns: a copy of the last answer is a duplicate; anything else a late part.
            if customer.last is not None and text in customer.last.replies:
                customer.last.duplicates += 1
            elif customer.last is not None:
                self.tally.late_parts += 1
                customer.last.replies.append(text)
            else:
                self.tally.stray_replies += 1
            return
        if text in turn.replies:
            turn.duplicates += 1
            return
        turn.replies.append(text)
        if turn.latency_ms is None:
            turn.latency_ms = (arrived - turn.sent_at) * 1000
            turn.answered.set()

    def _status_callback_later(self, sid: str) -> None:
        self._spawn(self._status_callback(sid))

    async def _status_callback(self, sid: str) -> None:
        await asyncio.sleep(STATUS_CALLBACK_DELAY)
        sender = self._twilio[self._next_gateway("status")]
        try:
            response = await sender.status(sid, "delivered")
            outcome = "ok" if response.is_success else f"http {response.status_code}"
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        self.tally.status_callbacks[outcome] += 1

    # Sending ---------------------------------------------------------------------------------

    def _next_gateway(self, channel: str) -> int:
        self._sends[channel] += 1
        return self._sends[channel] % len(self._gateways)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def generate(self, *, seconds: float, rate: float, measured: bool) -> None:
        """Send messages for `seconds` at `rate` a second on average (exponential gaps)."""
        weights = [POOL[c] for c in CHANNELS]
        loop = asyncio.get_running_loop()
        start = planned = loop.time()
        while True:
            planned += self._rng.expovariate(rate)
            if planned >= start + seconds:
                break
            delay = planned - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.tally.generator_lag_ms = max(self.tally.generator_lag_ms, -delay * 1000)
            channel = self._rng.choices(CHANNELS, weights)[0]
            idle = self._idle[channel]
            # Nobody free on this channel: a new customer writes in (the backlog grows).
            customer = idle.popleft() if idle else self._new_customer(channel)
            question = self._rng.choice(self._questions)
            self._spawn(self._converse(customer, question.text, measured=measured))

    async def _converse(self, customer: Customer, text: str, *, measured: bool) -> None:
        gateway = (
            customer.gateway
            if customer.channel == "webchat"
            else self._next_gateway(customer.channel)
        )
        turn = Turn(customer.channel, gateway, measured)
        self.turns.append(turn)
        customer.current = turn
        reuse = True
        try:
            if customer.channel == "webchat" and customer.socket is None:
                try:
                    await self._connect(customer)
                except (socketio.exceptions.ConnectionError, TimeoutError) as error:
                    # The customer could not even open the chat: a transport error.
                    turn.failure = f"connect {type(error).__name__}"
                    reuse = False
                    return
            turn.sent_at = time.perf_counter()
            await self._send(customer, text, turn)
            turn.ack_ms = (time.perf_counter() - turn.sent_at) * 1000
            if turn.failure is None:
                try:
                    await asyncio.wait_for(turn.answered.wait(), REPLY_TIMEOUT)
                    await asyncio.sleep(SETTLE_SECONDS)
                except TimeoutError:
                    # No reply (the turn says so). An answer may still come: the customer
                    # stays out of rotation so it cannot pass for the next turn's.
                    reuse = False
        finally:
            customer.current = None
            customer.last = turn
        if reuse:
            self._idle[customer.channel].append(customer)

    async def _send(self, customer: Customer, text: str, turn: Turn) -> None:
        try:
            if customer.channel == "webchat":
                assert customer.socket is not None
                await customer.socket.client.emit(
                    # The session id the gateway confirmed (it issues them).
                    "user_uttered",
                    {"message": text, "session_id": customer.socket.session_id},
                )
                turn.status = 200
                return
            if customer.channel == "telegram":
                response = await self._telegram(turn.gateway, int(customer.address), text)
            else:
                phone = customer.address.removeprefix("whatsapp:")
                form = (
                    sms(phone, text)
                    if customer.channel == "sms"
                    else whatsapp(phone, text, profile_name=f"Customer {customer.number}")
                )
                response = await self._twilio[turn.gateway].message(form)
        except (httpx.HTTPError, OSError) as error:
            turn.failure = type(error).__name__
            return
        turn.status = response.status_code
        if not response.is_success:
            turn.failure = f"http {response.status_code}"

    async def _telegram(self, gateway: int, chat_id: int, text: str) -> httpx.Response:
        user = {"id": chat_id, "is_bot": False, "first_name": f"Customer {chat_id}"}
        update = {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": next(self._update_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": user["first_name"]},
                "from": user,
                "text": text,
            },
        }
        return await self._http.post(
            self._gateways[gateway] + TELEGRAM_WEBHOOK,
            content=json.dumps(update).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
            },
        )

    async def drain(self, timeout: float) -> None:
        """Wait for answers still on their way (at most `timeout` seconds)."""
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def in_flight(self) -> int:
        return sum(1 for t in self.turns if t.failure is None and t.latency_ms is None)
