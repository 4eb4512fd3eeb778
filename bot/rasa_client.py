"""The gateway's client for one assistant turn (see connectors/gateway.py for the other half)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.handoff_reasons import HandoffReason
from bot.messages import Button

logger = logging.getLogger(__name__)

TURN_PATH = "/webhooks/gateway/webhook"
READY_PATH = "/webhooks/gateway/"
TRACKERS_PATH = "/webhooks/gateway/trackers"


class AssistantUnavailable(Exception):
    """Rasa could not be reached, answered with an error, or took too long."""


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """An action asked for a person (custom payload `{"handoff": {...}}`)."""

    reason: HandoffReason
    priority: str
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class BotReply:
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class Turn:
    """What the assistant made of one customer message."""

    replies: tuple[BotReply, ...]
    intent: str | None
    confidence: float | None
    slots: dict[str, Any] = field(default_factory=dict)
    handoff: HandoffRequest | None = None
    # The message answered the assistant's own question (the order number, a contact, a code).
    answering: bool = False
    # The assistant asked a question (the order number, a contact, a code), not answered one.
    asking: bool = False
    # The assistant asked for a one-time code: the next message is one (masked in the log).
    expects_one_time_code: bool = False


def parse_turn(body: Any) -> Turn:
    """Turn the connector's JSON answer into a `Turn`; unknown message kinds are dropped."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise AssistantUnavailable("the assistant answered with an unexpected body")
    replies: list[BotReply] = []
    handoff: HandoffRequest | None = None
    for message in body["messages"]:
        if not isinstance(message, dict):
            continue
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            request = custom["handoff"]
            handoff = HandoffRequest(
                reason=_handoff_reason(request.get("reason")),
                priority=str(request.get("priority") or "normal"),
                summary=request.get("summary"),
            )
            continue
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in message.get("buttons") or ()
            if isinstance(b, dict)
        )
        text = message.get("text")
        if (isinstance(text, str) and text) or buttons:
            replies.append(BotReply(text=text or "", buttons=buttons))
    intent = body.get("intent") if isinstance(body.get("intent"), dict) else {}
    slots = body.get("slots") if isinstance(body.get("slots"), dict) else {}
    confidence = intent.get("confidence") if intent else None
    return Turn(
        replies=tuple(replies),
        intent=intent.get("name") if intent else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        slots=slots or {},
        handoff=handoff,
        answering=body.get("answering") is True,
        asking=body.get("asking") is True,
        expects_one_time_code=body.get("expects_one_time_code") is True,
    )


def _handoff_reason(named: object) -> HandoffReason:
    """The reason an action named; one outside the shared list is a person asked for, logged."""
    if named is None or named == "":
        return HandoffReason.CUSTOMER_REQUEST
    reason = HandoffReason.parse(named)
    if reason is None:
        logger.warning("handoff.unknown_reason reason=%.50r", named)
        return HandoffReason.CUSTOMER_REQUEST
    return reason


class RasaClient:
    """Asks the Rasa server for turns over one pooled HTTP connection set."""

    def __init__(self, base_url: str, *, timeout: float, channel_token: str = "") -> None:
        # The Rasa side refuses turns without it when RASA_CHANNEL_TOKEN is set there.
        headers = {"Authorization": f"Bearer {channel_token}"} if channel_token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def turn(self, *, sender_id: str, text: str, metadata: dict[str, Any]) -> Turn:
        """One customer message in, the assistant's turn out; `AssistantUnavailable` on a fault."""
        try:
            response = await self._client.post(
                TURN_PATH, json={"sender": sender_id, "message": text, "metadata": metadata}
            )
        except httpx.HTTPError as error:
            raise AssistantUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code != 200:
            raise AssistantUnavailable(f"the assistant answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise AssistantUnavailable("the assistant answered with invalid JSON") from error
        return parse_turn(body)

    async def tracker_events(self, sender_id: str) -> list[Any]:
        """Everything Rasa's tracker store holds for `sender_id` (events, oldest first)."""
        response = await self._tracker_request("GET", sender_id)
        events = response.json().get("events")
        return events if isinstance(events, list) else []

    async def erase_tracker(self, sender_id: str) -> None:
        """Delete `sender_id`'s tracker from Rasa's tracker store; `AssistantUnavailable` if
        that could not be done (the caller keeps its own records until it can)."""
        await self._tracker_request("DELETE", sender_id)

    async def _tracker_request(self, method: str, sender_id: str) -> httpx.Response:
        try:
            response = await self._client.request(method, f"{TRACKERS_PATH}/{sender_id}")
        except httpx.HTTPError as error:
            raise AssistantUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code != 200:
            raise AssistantUnavailable(
                f"the assistant's tracker store answered HTTP {response.status_code}"
            )
        return response

    async def is_ready(self) -> bool:
        """True when the Rasa server is up with its model loaded."""
        try:
            response = await self._client.get(READY_PATH, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def close(self) -> None:
        await self._client.aclose()
