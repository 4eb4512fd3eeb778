"""The gateway's own words to customers, in every language it answers in.

The texts live in one catalogue the support team edits, `locales/system_texts.yml` (the
assistant's answers are Rasa's, in data/responses/). It is read once and checked when the
gateway starts: every text the code sends is there, in English at least, with the same
{placeholders} in every language, so a slip in an edit stops the start with the text's name
instead of failing a customer's turn later. A text missing in a language is sent in English,
and the gap is logged once per text and language.
"""

from __future__ import annotations

import enum
import logging
import string
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml  # type: ignore[import-untyped]

from bot.languages import DEFAULT_LANGUAGE, Language

logger = logging.getLogger(__name__)

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "locales" / "system_texts.yml"
# Where one text follows another in a message that says it in two languages.
LANGUAGE_SEPARATOR = "\n\n"


class TextKey(enum.StrEnum):
    """Every text the gateway sends a customer; each is a name in the catalogue."""

    HANDOFF_PROMISE = "handoff_promise"
    HANDOFF_PROMISE_ASSISTANT_UNAVAILABLE = "handoff_promise_assistant_unavailable"
    QUEUE_NOTICE = "queue_notice"
    ATTACHMENT_NOTICE = "attachment_notice"
    PRIVACY_NOTICE = "privacy_notice"
    FAQ_HELPFUL_YES_BUTTON = "faq_helpful_yes_button"
    FAQ_HELPFUL_NO_BUTTON = "faq_helpful_no_button"
    FAQ_HELPFUL_THANKS = "faq_helpful_thanks"
    FAQ_OFFER_PERSON = "faq_offer_person"
    FAQ_CONNECT_BUTTON = "faq_connect_button"
    FAQ_DECLINE_BUTTON = "faq_decline_button"
    RATING_QUESTION = "rating_question"
    RATING_1_BUTTON = "rating_1_button"
    RATING_2_BUTTON = "rating_2_button"
    RATING_3_BUTTON = "rating_3_button"
    RATING_4_BUTTON = "rating_4_button"
    RATING_5_BUTTON = "rating_5_button"
    RATING_THANKS = "rating_thanks"
    NUMBERED_OPTION = "numbered_option"
    KEYWORD_HELP = "keyword_help"
    KEYWORD_HELP_SMS = "keyword_help_sms"
    KEYWORD_HELP_SMS_NUMBER = "keyword_help_sms_number"
    KEYWORD_HELP_WHATSAPP = "keyword_help_whatsapp"
    KEYWORD_HELP_WHATSAPP_NUMBER = "keyword_help_whatsapp_number"
    KEYWORD_RESUBSCRIBED = "keyword_resubscribed"
    TELEGRAM_GREETING = "telegram_greeting"
    TELEGRAM_EXPIRED_BUTTON = "telegram_expired_button"
    TELEGRAM_CHOOSE = "telegram_choose"
    WEBCHAT_TOO_QUICK = "webchat_too_quick"
    WEBCHAT_TAKE_FAILED = "webchat_take_failed"
    WEBCHAT_OPEN_FAILED = "webchat_open_failed"
    WEBCHAT_TOO_LONG = "webchat_too_long"
    WEBCHAT_TOO_MANY_SESSIONS = "webchat_too_many_sessions"


# The values the code fills in, per text, each with an example of what it passes; texts not
# named here take none. A placeholder the code does not fill, or one written so that the value
# cannot fill it ("{hours:x}"), would fail a customer's turn, so every text is tried with these
# when the catalogue is read.
PLACEHOLDERS: Mapping[TextKey, Mapping[str, object]] = MappingProxyType(
    {
        TextKey.HANDOFF_PROMISE: {"hours": 24},
        TextKey.HANDOFF_PROMISE_ASSISTANT_UNAVAILABLE: {"hours": 24},
        TextKey.QUEUE_NOTICE: {"hours": 24},
        TextKey.FAQ_OFFER_PERSON: {"hours": 24},
        TextKey.RATING_THANKS: {"score": 4},
        TextKey.NUMBERED_OPTION: {"number": 1, "title": "Yes"},
        TextKey.KEYWORD_HELP: {"sms": "by SMS", "whatsapp": "on WhatsApp", "hours": 24},
        TextKey.KEYWORD_HELP_SMS_NUMBER: {"number": "+12465550100"},
        TextKey.KEYWORD_HELP_WHATSAPP_NUMBER: {"number": "+12465550100"},
        TextKey.TELEGRAM_GREETING: {"hours": 24},
        TextKey.WEBCHAT_TOO_LONG: {"chars": 2500, "max_chars": 2000},
        TextKey.WEBCHAT_TOO_MANY_SESSIONS: {"max_sessions": 3},
    }
)


class CatalogueError(ValueError):
    """The catalogue cannot be used as it is; the message names the file and the text."""


def answering_language(language: str | None) -> Language:
    """The language system texts go out in for a conversation's language: itself when the
    gateway answers in it, else English (undecided, or one no text is written in)."""
    try:
        return Language(language) if language else DEFAULT_LANGUAGE
    except ValueError:
        return DEFAULT_LANGUAGE


class SystemTexts:
    """A checked catalogue: text by name and language, with English for what is missing."""

    def __init__(
        self,
        texts: Mapping[TextKey, Mapping[Language, str]],
        *,
        untranslated: Mapping[Language, frozenset[TextKey]] | None = None,
    ) -> None:
        self._texts = texts
        # Gaps the catalogue lists as meant: sent in English without a warning.
        self._untranslated = untranslated or {}
        self._gaps_logged: set[tuple[TextKey, Language]] = set()

    @classmethod
    def load(cls, path: Path | None = None) -> SystemTexts:
        """Read and check a catalogue file (locales/system_texts.yml unless given); raise
        `CatalogueError` naming what is wrong."""
        path = path or CATALOGUE_PATH
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CatalogueError(f"{path}: cannot be read: {error}") from None
        except yaml.YAMLError as error:
            raise CatalogueError(f"{path}: is not valid YAML: {error}") from None
        return cls.from_data(data, source=str(path))

    @classmethod
    def from_data(cls, data: Any, *, source: str = "system texts") -> SystemTexts:
        """A catalogue from its parsed form ({"texts": {name: {language: text}}, ...})."""
        if not isinstance(data, dict) or not isinstance(data.get("texts"), dict):
            raise CatalogueError(f"{source}: expected a mapping with `texts:` at the top")
        texts: dict[TextKey, Mapping[Language, str]] = {}
        for name, by_language in data["texts"].items():
            key = _known_key(name, source)
            texts[key] = _checked_entry(key, by_language, source)
        missing = [key.value for key in TextKey if key not in texts]
        if missing:
            raise CatalogueError(f"{source}: missing texts the gateway sends: {', '.join(missing)}")
        untranslated = _untranslated(data.get("untranslated") or {}, source)
        return cls(MappingProxyType(texts), untranslated=untranslated)

    def text(
        self, key: TextKey, language: str | None, /, *, english: str | None = None, **values: Any
    ) -> str:
        """`key` in `language`, its placeholders filled with `values`.

        English when the conversation's language has no texts (undecided, or one the gateway
        does not answer in), or when this text is not translated into it yet (logged once).
        `english`, when given, is a deployment's own English for this text (a setting): used
        as it is, for English and in place of a missing translation.
        """
        wanted = answering_language(language)
        template = self._texts[key].get(wanted)
        if template is None:
            self._note_gap(key, wanted)
            wanted = DEFAULT_LANGUAGE
        if wanted == DEFAULT_LANGUAGE and english is not None:
            return english
        if template is None:
            template = self._texts[key][DEFAULT_LANGUAGE]
        return template.format(**values)

    def in_languages(self, key: TextKey, languages: Iterable[str], **values: Any) -> str:
        """`key` said in each of `languages` in turn, one paragraph each (the same text once
        when two fall back to English)."""
        said: list[str] = []
        for language in languages:
            text = self.text(key, language, **values)
            if text not in said:
                said.append(text)
        return LANGUAGE_SEPARATOR.join(said)

    def gaps(self) -> list[tuple[TextKey, Language]]:
        """(text, language) pairs with no translation, listed or not."""
        return [
            (key, language)
            for key, by_language in self._texts.items()
            for language in Language
            if language not in by_language
        ]

    def unlisted_gaps(self) -> list[tuple[TextKey, Language]]:
        """The gaps the catalogue does not list under `untranslated`."""
        return [
            (key, language)
            for key, language in self.gaps()
            if key not in self._untranslated.get(language, frozenset())
        ]

    def _note_gap(self, key: TextKey, language: Language) -> None:
        if (key, language) in self._gaps_logged:
            return
        self._gaps_logged.add((key, language))
        listed = key in self._untranslated.get(language, frozenset())
        log = logger.info if listed else logger.warning
        log("system_texts.untranslated key=%s language=%s listed=%s", key, language, listed)


def _known_key(name: Any, source: str) -> TextKey:
    try:
        return TextKey(name)
    except ValueError:
        raise CatalogueError(
            f"{source}: {name!r} is not a text the gateway sends (a misspelt name?)"
        ) from None


def _checked_entry(key: TextKey, by_language: Any, source: str) -> Mapping[Language, str]:
    if not isinstance(by_language, dict):
        raise CatalogueError(f"{source}: {key}: expected one line per language (en: ..., es: ...)")
    entry: dict[Language, str] = {}
    for code, text in by_language.items():
        try:
            language = Language(code)
        except ValueError:
            known = ", ".join(language.value for language in Language)
            raise CatalogueError(
                f"{source}: {key}: {code!r} is not a language the gateway answers in ({known})"
            ) from None
        if not isinstance(text, str) or not text.strip():
            raise CatalogueError(f"{source}: {key}.{code}: the text is empty")
        entry[language] = text
    if DEFAULT_LANGUAGE not in entry:
        raise CatalogueError(f"{source}: {key}: has no English ({DEFAULT_LANGUAGE.value}) text")
    examples = PLACEHOLDERS.get(key, {})
    expected = frozenset(examples)
    for language, text in entry.items():
        found = _placeholders(key, language, text, source)
        if found != expected:
            raise CatalogueError(
                f"{source}: {key}.{language.value}: placeholders {_braces(found)} differ from "
                f"the ones the gateway fills in, {_braces(expected)}"
            )
        try:
            text.format(**examples)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise CatalogueError(
                f"{source}: {key}.{language.value}: cannot be filled in ({error})"
            ) from None
    return MappingProxyType(entry)


def _placeholders(key: TextKey, language: Language, text: str, source: str) -> frozenset[str]:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as error:
        raise CatalogueError(
            f"{source}: {key}.{language.value}: unbalanced braces ({error}); write {{{{ and }}}} "
            "for a brace itself"
        ) from None
    if any(not name.isidentifier() for name in fields):
        raise CatalogueError(f"{source}: {key}.{language.value}: a placeholder must be a name")
    return frozenset(fields)


def _braces(names: frozenset[str]) -> str:
    return ", ".join("{" + name + "}" for name in sorted(names)) or "none"


def _untranslated(data: Any, source: str) -> Mapping[Language, frozenset[TextKey]]:
    if not isinstance(data, dict):
        raise CatalogueError(f"{source}: untranslated: expected language: [names]")
    listed: dict[Language, frozenset[TextKey]] = {}
    for code, names in data.items():
        try:
            language = Language(code)
        except ValueError:
            raise CatalogueError(f"{source}: untranslated: {code!r} is not a language") from None
        if not isinstance(names, list):
            raise CatalogueError(f"{source}: untranslated.{code}: expected a list of names")
        listed[language] = frozenset(_known_key(name, source) for name in names)
    return MappingProxyType(listed)


@cache
def catalogue() -> SystemTexts:
    """The catalogue in locales/system_texts.yml, read and checked once per process."""
    return SystemTexts.load()


def text(key: TextKey, language: str | None, /, **values: Any) -> str:
    """`key` in `language` from the catalogue (see `SystemTexts.text`)."""
    return catalogue().text(key, language, **values)


def in_languages(key: TextKey, languages: Iterable[str], **values: Any) -> str:
    """`key` in each of `languages` in turn (see `SystemTexts.in_languages`)."""
    return catalogue().in_languages(key, languages, **values)
