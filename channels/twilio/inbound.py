"""The inbound half: Twilio's webhook form (SMS or WhatsApp) as the project's `InboundMessage`.

Twilio posts the same form for both channels; a WhatsApp sender's address is
`whatsapp:+12465550123`. The phone number without the prefix links the customer's SMS and
WhatsApp identities to one contact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from bot.messages import Attachment, Channel, InboundMessage
from bot.text import clean_customer_text

WHATSAPP_PREFIX = "whatsapp:"
# Twilio sends at most 10 media items with one message.
MAX_MEDIA = 10
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class MalformedMessage(ValueError):
    """The form is not a Twilio message webhook; the text says what is wrong."""


def parse_message(form: Mapping[str, str]) -> InboundMessage:
    """Read one inbound SMS or WhatsApp message from Twilio's webhook form fields."""
    message_sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    sender = (form.get("From") or "").strip()
    if not message_sid or not sender:
        raise MalformedMessage("expected Twilio's message webhook fields MessageSid and From")
    if sender.startswith(WHATSAPP_PREFIX):
        channel = Channel.WHATSAPP
        number = sender.removeprefix(WHATSAPP_PREFIX)
    else:
        channel = Channel.SMS
        number = sender
    if not number:
        raise MalformedMessage(f"From has no number: {sender!r}")
    return InboundMessage(
        channel=channel,
        address=sender,
        text=clean_customer_text(form.get("Body") or ""),
        external_id=message_sid,
        display_name=(form.get("ProfileName") or "").strip() or None,
        # Short codes and alphanumeric senders are no phone a contact can be found by.
        phone=number if _E164.match(number) else None,
        attachments=(*_media(form), *_location(form)),
    )


def media_kind(content_type: str) -> str:
    """What kind of attachment a content type is: image, audio, video or document."""
    major = content_type.split("/", 1)[0].strip().lower()
    return major if major in {"image", "audio", "video"} else "document"


def _media(form: Mapping[str, str]) -> list[Attachment]:
    raw = (form.get("NumMedia") or "0").strip()
    if not raw.isdigit():
        raise MalformedMessage(f"NumMedia must be a whole number, got {raw!r}")
    attachments = []
    for index in range(min(int(raw), MAX_MEDIA)):
        url = form.get(f"MediaUrl{index}")
        if not url:
            continue
        content_type = form.get(f"MediaContentType{index}") or "application/octet-stream"
        attachments.append(
            Attachment(kind=media_kind(content_type), url=url, content_type=content_type)
        )
    return attachments


def _location(form: Mapping[str, str]) -> list[Attachment]:
    """A WhatsApp location pin, as "lat,lon"."""
    latitude, longitude = form.get("Latitude"), form.get("Longitude")
    if not latitude or not longitude:
        return []
    try:
        lat, lon = float(latitude), float(longitude)
    except ValueError:
        raise MalformedMessage("Latitude and Longitude must be numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise MalformedMessage("Latitude and Longitude are out of range")
    return [Attachment(kind="location", description=f"{latitude.strip()},{longitude.strip()}")]
