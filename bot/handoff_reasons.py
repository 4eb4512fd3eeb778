"""Why a conversation goes to a person: the one list the assistant and the gateway share.

The Rasa actions (actions/handoff.py, in Rasa's Python 3.10 environment) and the gateway both
import this module, so it imports nothing else and runs on both Pythons. A reason not in this
list is never stored: the gateway reads an unknown one as `customer_request` and logs it.
"""

from __future__ import annotations

import enum


class HandoffReason(str, enum.Enum):  # noqa: UP042 (StrEnum is 3.11+; the actions run on 3.10)
    """A closed set, like `Priority`: the queue, reports and metrics show these names."""

    CUSTOMER_REQUEST = "customer_request"
    REPEATED_FALLBACK = "repeated_fallback"
    COMPLAINT = "complaint"
    PAYMENT_DISPUTE = "payment_dispute"
    ACCOUNT_COMPROMISED = "account_compromised"
    ASSISTANT_UNAVAILABLE = "assistant_unavailable"
    FAQ_NOT_HELPFUL = "faq_not_helpful"
    ROUTING_FAILED = "routing_failed"
    # The customer writes in a language the assistant does not answer in (bot/languages.py).
    UNSUPPORTED_LANGUAGE = "unsupported_language"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: object) -> HandoffReason | None:
        """The reason named by `value`, or None when it names none of these."""
        try:
            return cls(value)
        except ValueError:
            return None
