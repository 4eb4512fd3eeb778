"""The languages the assistant answers in, and a conversation's language over its messages.

A message's language is detected (`bot.language_id`); a conversation's is decided here, so
that "ok", "1" or a one-word reply never flips a Spanish conversation to English, while a
customer who really switches is followed.
"""

from __future__ import annotations

from enum import StrEnum

from bot.language_id import Detection


class Language(StrEnum):
    """Languages the assistant answers in (training data, answers and system texts)."""

    EN = "en"
    ES = "es"
    FR = "fr"
    HT = "ht"
    NL = "nl"


DEFAULT_LANGUAGE = Language.EN
# ISO 639-2 "undetermined": there was text, but not enough certainty to name its language.
UNDETERMINED = "und"
# A message decides the conversation's language only with this much text and certainty.
MIN_WORDS_TO_DECIDE = 3
MIN_CONFIDENCE_TO_DECIDE = 0.8
# A first message shorter than that still counts when the detector is this sure ("merci",
# "gracias", "bonjou"): nothing said before it can be contradicted.
MIN_CONFIDENCE_FIRST_WORDS = 0.95


def from_hint(hint: str | None) -> str | None:
    """A channel's language hint ("es-419", "fr_HT", "nl") as a bare language code."""
    if not hint:
        return None
    code = hint.strip().replace("_", "-").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def is_supported(language: str | None) -> bool:
    return language in Language._value2member_map_


def message_language(detection: Detection | None) -> str | None:
    """A customer message's own language tag: as detected, "und" when the detector was unsure,
    None when there were no words to go on ("1", a photo)."""
    if detection is None:
        return None
    if detection.confidence < MIN_CONFIDENCE_TO_DECIDE:
        return UNDETERMINED
    return detection.language


def conversation_language(
    current: str | None, detection: Detection | None, hint: str | None = None
) -> str:
    """The conversation's language after one more customer message.

    `current` is the language so far (None for a new conversation), `detection` the message's
    own, `hint` what the channel says of the customer (Telegram's language_code, the browser's
    language). Unsupported languages are kept as detected: the gateway hands those customers
    to a person rather than answering in the wrong language.
    """
    return decided_language(current, detection, hint) or DEFAULT_LANGUAGE.value


def decided_language(
    current: str | None, detection: Detection | None, hint: str | None = None
) -> str | None:
    """As `conversation_language`, but None while nothing has told the language yet (a new
    conversation's "ok" or photo, and no hint): the next message may still decide it freely.

    A new conversation's first words that are long enough to tell but leave the detector
    unsure take its best guess when it is a language the assistant answers in, and "und"
    otherwise, so a Papiamento customer is never forced into Spanish or Dutch by accident.
    """
    hinted = from_hint(hint)
    decisive = (
        detection is not None
        and detection.words >= MIN_WORDS_TO_DECIDE
        and detection.confidence >= MIN_CONFIDENCE_TO_DECIDE
    )
    if detection is not None and decisive:
        return detection.language
    if current is not None:
        return current
    if (
        detection is not None
        and detection.confidence >= MIN_CONFIDENCE_FIRST_WORDS
        and is_supported(detection.language)
    ):
        return detection.language
    if is_supported(hinted):
        return str(hinted)
    if detection is not None and detection.words >= MIN_WORDS_TO_DECIDE:
        return detection.language if is_supported(detection.language) else UNDETERMINED
    return None
