"""The project's own message types: what channels parse inbound requests into and send out."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Channel(enum.StrEnum):
    """A channel's one name: used for its route, its config, its rows and its log records."""

    WEBCHAT = "webchat"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SenderKind(enum.StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    REP = "rep"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the customer; `payload` is what is sent back when it is chosen."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A reference to media or a location the customer sent; the assistant reads text only."""

    kind: str  # "image", "audio", "video", "document", "location", "sticker", ...
    url: str | None = None
    content_type: str | None = None
    description: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("kind", self.kind),
                ("url", self.url),
                ("content_type", self.content_type),
                ("description", self.description),
            )
            if v
        }


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message as a channel parsed it, before anything is stored.

    `external_id` is the vendor's delivery id (Twilio MessageSid, Telegram update_id); a second
    delivery with the same id is a duplicate and is not processed again.
    """

    channel: Channel
    address: str  # the customer's identity on the channel: session id, phone number, chat id
    text: str
    external_id: str | None = None
    display_name: str | None = None
    phone: str | None = None  # E.164, links SMS and WhatsApp identities to one contact
    attachments: tuple[Attachment, ...] = ()
    # A chosen button: `text` is its title (what the log shows), this is what the bot receives.
    button_payload: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # What the channel says of the customer's language (Telegram's language_code, the
    # browser's language), as given ("es-419", "fr"): it decides only when the text cannot.
    language_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """Something to send a customer: text and buttons, from the bot, a rep or the system."""

    text: str
    sender_kind: SenderKind
    buttons: tuple[Button, ...] = ()
    rep_id: int | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON stored with the message (buttons), empty when plain text."""
        if not self.buttons:
            return {}
        return {"buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons]}
