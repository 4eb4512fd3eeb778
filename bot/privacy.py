"""Masking what must never be stored or logged: payment card numbers and one-time codes.

Applied to every message text before it is written (and so before Rasa, which reads the stored
text, sees it). Order numbers (CC-482913, #482913) and amounts are left alone: a card number is
13 to 19 digits that pass the Luhn check; a one-time code is 3 to 8 digits right after words like
"code", "OTP", "PIN" or "passcode".
"""

from __future__ import annotations

import re

_CARD = re.compile(r"(?<![\w#-])(?:\d[ -]?){12,18}\d(?![\w-])")
_ONE_TIME_CODE = re.compile(
    r"(?P<lead>\b(?:otp|one[- ]time (?:code|password|pin)|pass ?code|verification code|"
    r"security code|sms code|auth(?:entication)? code|code|pin|cvv|cvc)\b[^\d\n]{0,12}?)"
    r"(?P<code>(?<![\w-])\d{3,8}(?![\w-]))",
    re.IGNORECASE,
)
CODE_MASK = "[code removed]"


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not _luhn_valid(digits):
        return match.group(0)
    return f"[card ending {digits[-4:]}]"


def mask_sensitive(text: str) -> str:
    """`text` with card numbers reduced to their last four digits and one-time codes removed."""
    text = _CARD.sub(_mask_card, text)
    return _ONE_TIME_CODE.sub(lambda m: m.group("lead") + CODE_MASK, text)
