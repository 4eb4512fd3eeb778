"""The catalogue of the gateway's own texts: complete, consistent, checked at start-up, and
English (logged once) where a translation is missing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import socketio
import yaml

from bot import system_texts
from bot.handoff_reasons import HandoffReason
from bot.languages import Language
from bot.policy import notice_languages, promise_text, queue_notice_text
from bot.settings import DEFAULT_PRIVACY_NOTICE
from bot.system_texts import (
    CATALOGUE_PATH,
    PLACEHOLDERS,
    CatalogueError,
    SystemTexts,
    TextKey,
)
from gateway.services import build_services
from tests.conftest import make_settings

REVIEW_PATH = CATALOGUE_PATH.parent / "review.yml"
TRANSLATED = [language for language in Language if language != Language.EN]


def _raw_catalogue() -> dict[str, Any]:
    data = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _texts(**changes: dict[str, str] | None) -> dict[str, Any]:
    """The real catalogue's data with some texts replaced (None: removed)."""
    data = _raw_catalogue()
    for name, entry in changes.items():
        if entry is None:
            data["texts"].pop(name)
        else:
            data["texts"][name] = entry
    return data


# The catalogue as shipped --------------------------------------------------------------------


def test_every_text_is_in_all_five_languages_or_a_listed_gap() -> None:
    catalogue = SystemTexts.load()
    assert catalogue.unlisted_gaps() == []
    raw = _raw_catalogue()["texts"]
    assert set(raw) == {key.value for key in TextKey}
    for key in TextKey:
        listed = _raw_catalogue().get("untranslated") or {}
        for language in Language:
            assert language.value in raw[key.value] or key.value in listed.get(language, []), (
                key,
                language,
            )


def test_placeholders_are_the_same_in_every_language_and_fill_in() -> None:
    catalogue = SystemTexts.load()
    for key in TextKey:
        values = PLACEHOLDERS.get(key, {})
        for language in Language:
            said = catalogue.text(key, language, **values)
            assert "{" not in said and "}" not in said, (key, language, said)
            for value in values.values():
                assert str(value) in said or f"{value:,}" in said, (key, language, said)


def test_every_translation_awaits_review_or_is_off_the_review_list() -> None:
    """locales/review.yml lists only texts that exist; the support team removes a name once a
    fluent speaker has checked it."""
    review = yaml.safe_load(REVIEW_PATH.read_text(encoding="utf-8"))
    names = {key.value for key in TextKey}
    for language in TRANSLATED:
        listed = [n for n in review[language.value] if n.startswith("system_texts.")]
        assert len(listed) == len(set(listed)), language
        assert {n.removeprefix("system_texts.") for n in listed} <= names, language


def test_the_english_privacy_notice_is_the_settings_default_and_every_one_fits_two_sms() -> None:
    catalogue = SystemTexts.load()
    assert catalogue.text(TextKey.PRIVACY_NOTICE, "en") == DEFAULT_PRIVACY_NOTICE
    for language in Language:
        assert len(catalogue.text(TextKey.PRIVACY_NOTICE, language)) <= 320, language


def test_telegram_button_answers_fit_telegram_limit() -> None:
    catalogue = SystemTexts.load()
    for language in Language:
        assert len(catalogue.text(TextKey.TELEGRAM_EXPIRED_BUTTON, language)) <= 200


def test_the_keywords_carriers_know_stay_in_english_in_every_language() -> None:
    catalogue = SystemTexts.load()
    values = PLACEHOLDERS[TextKey.KEYWORD_HELP]
    for language in Language:
        assert "STOP" in catalogue.text(TextKey.KEYWORD_HELP, language, **values)
        resubscribed = catalogue.text(TextKey.KEYWORD_RESUBSCRIBED, language)
        assert "HELP" in resubscribed and "STOP" in resubscribed
        assert '"agent"' in catalogue.text(TextKey.ATTACHMENT_NOTICE, language)


# Checked when read -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"queue_notice": {"es": "Gracias, {hours} horas."}},
            "queue_notice: has no English (en) text",
        ),
        (
            {"queue_notice": {"en": "Thanks, {hours} hours.", "fr": "Merci, {heures} heures."}},
            "queue_notice.fr: placeholders {heures} differ from the ones the gateway fills "
            "in, {hours}",
        ),
        (
            {"rating_thanks": {"en": "Thank you for your rating."}},
            "rating_thanks.en: placeholders none differ",
        ),
        ({"queue_notice": {"en": "Thanks, {hours hours."}}, "queue_notice.en: unbalanced braces"),
        ({"queue_notice": {"en": "Thanks, {hours:s} hours."}}, "queue_notice.en: cannot be filled"),
        ({"queue_notice": {"en": "Thanks", "pt": "Obrigado"}}, "queue_notice: 'pt' is not a lang"),
        ({"queue_notice": {"en": "  "}}, "queue_notice.en: the text is empty"),
        ({"queue_notcie": {"en": "Thanks"}}, "'queue_notcie' is not a text the gateway sends"),
        ({"queue_notice": None}, "missing texts the gateway sends: queue_notice"),
    ],
)
def test_a_slip_in_an_edit_is_refused_naming_the_text(
    changes: dict[str, dict[str, str] | None], message: str
) -> None:
    with pytest.raises(CatalogueError) as refused:
        SystemTexts.from_data(_texts(**changes), source="system_texts.yml")
    assert message in str(refused.value)
    assert str(refused.value).startswith("system_texts.yml: ")


def test_a_file_that_is_not_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "system_texts.yml"
    broken.write_text("texts:\n  queue_notice: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"system_texts\.yml: is not valid YAML"):
        SystemTexts.load(broken)


def test_the_gateway_refuses_to_start_with_a_broken_catalogue(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _texts(queue_notice={"en": "Thanks, a person replies within {hour} hours."})
    broken = tmp_path / "system_texts.yml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(system_texts, "CATALOGUE_PATH", broken)
    system_texts.catalogue.cache_clear()
    try:
        with pytest.raises(CatalogueError, match=r"queue_notice\.en: placeholders \{hour\}"):
            build_services(make_settings(sqlite_url), socketio.AsyncServer(async_mode="asgi"))
    finally:
        system_texts.catalogue.cache_clear()


# Missing translations: English, logged once ----------------------------------------------------


def test_a_missing_translation_is_sent_in_english_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    english = "Thanks, I've added this. A person replies within {hours} hours."
    catalogue = SystemTexts.from_data(_texts(queue_notice={"en": english, "fr": "Merci ({hours})"}))
    caplog.set_level(logging.INFO, logger="bot.system_texts")
    for _ in range(3):
        assert catalogue.text(TextKey.QUEUE_NOTICE, "es", hours=24) == english.format(hours=24)
    assert catalogue.text(TextKey.QUEUE_NOTICE, "fr", hours=24) == "Merci (24)"
    assert catalogue.text(TextKey.QUEUE_NOTICE, "nl", hours=24) == english.format(hours=24)
    gaps = [r for r in caplog.records if r.msg.startswith("system_texts.untranslated")]
    assert [(r.levelno, r.args) for r in gaps] == [
        (logging.WARNING, (TextKey.QUEUE_NOTICE, Language.ES, False)),
        (logging.WARNING, (TextKey.QUEUE_NOTICE, Language.NL, False)),
    ]
    assert (TextKey.QUEUE_NOTICE, Language.HT) in catalogue.unlisted_gaps()


def test_a_listed_gap_is_sent_in_english_and_noted_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = _texts(telegram_choose={"en": "Please choose:"})
    data["untranslated"] = {code: ["telegram_choose"] for code in ("es", "fr", "ht", "nl")}
    catalogue = SystemTexts.from_data(data)
    caplog.set_level(logging.INFO, logger="bot.system_texts")
    assert catalogue.text(TextKey.TELEGRAM_CHOOSE, "ht") == "Please choose:"
    assert catalogue.unlisted_gaps() == []
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_an_undecided_or_unsupported_language_gets_english_without_a_gap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalogue = SystemTexts.load()
    english = catalogue.text(TextKey.WEBCHAT_TOO_QUICK, "en")
    caplog.set_level(logging.INFO, logger="bot.system_texts")
    for language in (None, "", "pap", "und", "pt"):
        assert catalogue.text(TextKey.WEBCHAT_TOO_QUICK, language) == english
    assert caplog.records == []


def test_a_deployments_own_english_replaces_the_catalogues_and_fills_a_gap() -> None:
    own = "Privacy: see caricomconnects.example/privacy. {Braces} are kept as written."
    catalogue = SystemTexts.from_data(
        _texts(privacy_notice={"en": "Privacy.", "es": "Privacidad."})
    )
    assert catalogue.text(TextKey.PRIVACY_NOTICE, "en", english=own) == own
    assert catalogue.text(TextKey.PRIVACY_NOTICE, None, english=own) == own
    assert catalogue.text(TextKey.PRIVACY_NOTICE, "fr", english=own) == own  # no French
    assert catalogue.text(TextKey.PRIVACY_NOTICE, "es", english=own) == "Privacidad."


# Said in two languages -----------------------------------------------------------------------


def test_a_text_in_two_languages_is_two_paragraphs_and_never_the_same_one_twice() -> None:
    catalogue = SystemTexts.load()
    english = catalogue.text(TextKey.QUEUE_NOTICE, "en", hours=24)
    french = catalogue.text(TextKey.QUEUE_NOTICE, "fr", hours=24)
    both = catalogue.in_languages(TextKey.QUEUE_NOTICE, ["en", "fr"], hours=24)
    assert both == f"{english}\n\n{french}"
    assert "24 heures" in french
    assert catalogue.in_languages(TextKey.QUEUE_NOTICE, ["en", "pap"], hours=24) == english


def test_the_queue_speaks_the_conversations_language_or_english_and_french() -> None:
    assert notice_languages(None) == ("en",)
    assert notice_languages("ht") == ("ht",)
    assert notice_languages("pap") == ("en", "fr")
    assert notice_languages("und") == ("en", "fr")
    creole = queue_notice_text(24, "ht")
    assert creole.startswith("Mèsi") and "24 èdtan" in creole
    unsupported = promise_text(HandoffReason.UNSUPPORTED_LANGUAGE, 24, "pap")
    assert promise_text(HandoffReason.CUSTOMER_REQUEST, 24, "pap") == unsupported
    assert promise_text(HandoffReason.UNSUPPORTED_LANGUAGE, 24, None) == unsupported
    english, french = unsupported.split("\n\n")
    assert english == promise_text(HandoffReason.COMPLAINT, 24, None)
    assert french == promise_text(HandoffReason.COMPLAINT, 24, "fr")
    assert "indisponible" not in french and "24 heures" in french
