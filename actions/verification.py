"""Whether the customer is verified for an order: what the channel proves about them.

On SMS and WhatsApp the carrier (through Twilio) proves the phone number a customer writes
from; the gateway passes it to the assistant in the turn's metadata (`customer_phone`, set for
those channels only, bot/router.py). A customer whose phone is the order's phone may see that
order. Web chat and Telegram prove no phone: there a customer proves an order is theirs with a
one-time code the platform sends to the order's email or phone on file (actions/lookup_form.py),
which holds for that order for an hour (VERIFIED_FOR).
"""

import re
from datetime import datetime, timedelta, timezone
from typing import Optional, Text

from rasa_sdk import Tracker

PHONE_CHANNELS = frozenset({"sms", "whatsapp"})
PHONE_METADATA_KEY = "customer_phone"
# How a verification was made, as recorded in the `verification_method` slot.
BY_CHANNEL_PHONE = "channel_phone"
BY_ONE_TIME_CODE = "one_time_code"
# How long a one-time code's proof holds, as long as a conversation session lasts idle.
VERIFIED_FOR = timedelta(hours=1)


def channel_phone(tracker: Tracker) -> Optional[Text]:
    """The phone number the channel proves the customer writes from (E.164), or None."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    if metadata.get("channel") not in PHONE_CHANNELS:
        return None
    return normalise_phone(metadata.get(PHONE_METADATA_KEY))


def normalise_phone(value: object) -> Optional[Text]:
    """The number as E.164 ("whatsapp:+1 (868) 555-0123" -> "+18685550123"); None if no digits."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"\D", "", value.removeprefix("whatsapp:"))
    return f"+{digits}" if digits else None


def same_phone(proven: Text, on_file: Text) -> bool:
    return normalise_phone(proven) == normalise_phone(on_file)


def verified_by_code(
    tracker: Tracker, order_number: Text, *, now: Optional[datetime] = None
) -> bool:
    """Whether the customer proved, with a one-time code, that `order_number` is theirs, and
    did so recently: the proof holds VERIFIED_FOR from when the code was sent (slots outlive a
    session, and a shared device should not keep showing someone's orders)."""
    if (
        tracker.get_slot("verification_method") != BY_ONE_TIME_CODE
        or tracker.get_slot("verified_order") != order_number
    ):
        return False
    sent = tracker.get_slot("verification_codes_sent") or []
    try:
        last_sent = datetime.fromisoformat(str(sent[-1]))
    except (IndexError, ValueError):
        return False
    return (now or datetime.now(timezone.utc)) - last_sent < VERIFIED_FOR
