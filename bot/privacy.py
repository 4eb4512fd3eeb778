"""Masking what must never be stored or logged: payment card numbers and one-time codes.

Applied to every text a customer or a person writes before it is stored (and so before Rasa,
which reads the stored text, sees it). A card number is 13 to 19 digits passing the Luhn check,
found wherever it sits: people write cards in groups with spaces, dashes, dots or slashes
between them (mixed, doubled, " - "), glued to a word ("card4111…", "card#4111…"), and followed
by the expiry or the CVV ("4111 1111 1111 1111 123"). The whole run of digits then fails Luhn,
so every window of whole digit groups inside a run is tried. Windows start and end at group
boundaries on purpose: a sliding window over a long run would find a Luhn-valid 13-digit
stretch in one run out of ten (two phone numbers in a row, a long reference) and destroy text
that holds no card. Order numbers (CC-482913, #482913), phone numbers and amounts are kept: they
are shorter than 13 digits. A one-time code is 3 to 8 digits right after words like "code",
"OTP", "PIN" or "passcode"; when the assistant has just asked for a code, any 4 to 8 digits are
one (`take_one_time_code`).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

# A run of digit groups: separators of one to three spaces, tabs, dashes, dots or slashes.
_DIGIT_RUN = re.compile(r"\d+(?:[ \t\-./]{1,3}\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
_ONE_TIME_CODE = re.compile(
    r"(?P<lead>\b(?:otp|one[- ]time (?:code|password|pin)|pass ?code|verification code|"
    r"security code|sms code|auth(?:entication)? code|code|pin|cvv|cvc)\b[^\d\n]{0,12}?)"
    r"(?P<code>(?<![\w-])\d{3,8}(?![\w-]))",
    re.IGNORECASE,
)
CODE_MASK = "[code removed]"
CARD_MIN_DIGITS = 13
CARD_MAX_DIGITS = 19


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_mask(digits: str) -> str:
    return f"[card ending {digits[-4:]}]"


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    groups = list(_DIGIT_GROUP.finditer(run))
    if sum(len(g.group(0)) for g in groups) < CARD_MIN_DIGITS:
        return run
    # Every group inside any valid window is masked: taking windows greedily from the left
    # would let a phone number before a card claim the card's first group and leave the rest.
    covered = [False] * len(groups)
    for start in range(len(groups)):
        digits = ""
        for end in range(start, len(groups)):
            digits += groups[end].group(0)
            if len(digits) > CARD_MAX_DIGITS:
                break
            if len(digits) >= CARD_MIN_DIGITS and luhn_valid(digits):
                covered[start : end + 1] = [True] * (end + 1 - start)
    out: list[str] = []
    kept_from = 0  # where the text not yet copied to `out` starts, in `run`
    index = 0
    while index < len(groups):
        if not covered[index]:
            index += 1
            continue
        last = index
        while last + 1 < len(groups) and covered[last + 1]:
            last += 1
        out.append(run[kept_from : groups[index].start()])
        out.append(card_mask("".join(g.group(0) for g in groups[index : last + 1])))
        kept_from = groups[last].end()
        index = last + 1
    out.append(run[kept_from:])
    return "".join(out)


def mask_sensitive(text: str) -> str:
    """`text` with card numbers reduced to their last four digits and one-time codes removed."""
    text = _DIGIT_RUN.sub(_mask_run, text)
    return _ONE_TIME_CODE.sub(lambda m: m.group("lead") + CODE_MASK, text)


# A code the customer was asked for, typed on its own or in a sentence: a run of 4 to 8 digits,
# maybe in groups ("482 913"). A longer run (a card, a phone number) is not a code.
_DIGIT_GROUPS = re.compile(r"(?<![\w+-])\d+(?:[ -]\d+)*(?![\w-])")
CODE_MIN_DIGITS = 4
CODE_MAX_DIGITS = 8
# Where the code travels from the stored message (its payload, until the turn is done) to the
# assistant (the turn's metadata).
ONE_TIME_CODE_KEY = "one_time_code"
# How long after asking the next message is taken as the code: a code lives 10 minutes on the
# platform (docs/platform-api.yaml); later digits are an ordinary message again.
CODE_ANSWER_WINDOW = timedelta(minutes=10)


def take_one_time_code(text: str) -> tuple[str, str | None]:
    """For a message answering "type the code": the text masked as `mask_sensitive` does, with
    every code-like run of digits masked too, and the first such code (digits only) or None.

    The code is handed to the assistant beside the stored text, never in it.
    """
    codes: list[str] = []

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if not CODE_MIN_DIGITS <= len(digits) <= CODE_MAX_DIGITS:
            return match.group(0)
        codes.append(digits)
        return CODE_MASK

    masked = _DIGIT_GROUPS.sub(mask, text)
    return mask_sensitive(masked), (codes[0] if codes else None)


_MASKS = re.compile(r"\[card ending \d{4}\]|" + re.escape(CODE_MASK))


def without_masks(text: str) -> str:
    """A masked text without what masking put in it ("[card ending 1234]", "[code removed]"):
    words the customer never wrote, which would read as English to a language detector."""
    return _MASKS.sub(" ", text)


def visitor_label() -> str:
    """How people see a web chat customer, whose address (the session id) is a secret.

    Random, not derived from the session id: a label that leaks tells nothing about it.
    """
    return f"Web visitor {secrets.token_hex(2).upper()}"


def mask_optional(text: str | None) -> str | None:
    """`mask_sensitive` for a field a person may leave empty."""
    return None if text is None else mask_sensitive(text)
