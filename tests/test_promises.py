"""Promises the product keeps: every customer-facing text that names a team, a time or a fee,
listed, and each checked against what backs it (bot/promises.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import system_texts
from bot.handoff_reasons import HandoffReason
from bot.languages import Language
from bot.policy import ResponseTargets, promise_text, queue_notice_text
from bot.promises import (
    SUPPORT_TEAM,
    SUPPORT_TEAM_ROLES,
    PromiseKind,
    find_promises,
    names_support_team,
    states_an_amount,
)
from bot.settings import DEFAULT_PRIVACY_NOTICE, setting_default
from bot.store.models import Role
from bot.system_texts import PLACEHOLDERS, TextKey

ROOT = Path(__file__).resolve().parents[1]
# Not the default: a gateway text that wrote "24" itself instead of the setting shows up.
PROMISE = 37

Text = tuple[str, str, str]  # (where, response or name, language) -> its text


def assistant_texts() -> dict[Text, str]:
    """Every variant of every response of the assistant, by language."""
    out: dict[Text, str] = {}
    for source in ("data/responses/faq.yml", "domain.yml"):
        responses = yaml.safe_load((ROOT / source).read_text(encoding="utf-8")).get("responses")
        for name, variants in (responses or {}).items():
            for n, variant in enumerate(variants):
                language = "en"
                for condition in variant.get("condition") or []:
                    if condition.get("name") == "language":
                        language = condition["value"]
                key = (source, name, language)
                text = variant.get("text", "")
                out[key] = f"{out[key]}\n{text}" if key in out and n else text
    return out


def gateway_texts() -> dict[Text, str]:
    """The gateway's own customer-facing texts (locales/system_texts.yml) in every language,
    rendered with a promise of PROMISE hours, and the notices built from them."""
    out: dict[Text, str] = {}
    for key in TextKey:
        values = dict(PLACEHOLDERS.get(key, {}))
        if "hours" in values:
            values["hours"] = PROMISE
        for language in Language:
            name = f"system_texts.{key.value}"
            out[("gateway", name, language.value)] = system_texts.text(key, language, **values)
    for reason in HandoffReason:
        out[("gateway", f"promise_text({reason.value})", "en")] = promise_text(reason, PROMISE)
    out[("gateway", "queue_notice_text", "en")] = queue_notice_text(PROMISE)
    out[("gateway", "settings.DEFAULT_PRIVACY_NOTICE", "en")] = DEFAULT_PRIVACY_NOTICE
    return out


def inventory(texts: dict[Text, str]) -> set[tuple[str, str, str]]:
    return {
        (name, language, promise.kind.value)
        for (_, name, language), text in texts.items()
        for promise in find_promises(text)
    }


# Every customer-facing text that names a team, a time or a fee: (text, language, kind). A new
# one fails here until someone checks what backs it and adds it.
NAMED = {
    # The support team: the people behind the human queue.
    *((name, lang, "team") for name in ("utter_default", "utter_check_refund_policy",
        "utter_payment_dispute_first_steps") for lang in ("en", "es", "fr", "ht", "nl")),
    ("promise_text(customer_request)", "en", "team"),
    *((f"promise_text({r.value})", "en", "team") for r in HandoffReason
      if r != HandoffReason.ASSISTANT_UNAVAILABLE),
    # The gateway's own texts, in every language.
    *((f"system_texts.{name}", lang, "team") for name in ("handoff_promise", "faq_offer_person",
        "team_closed") for lang in ("en", "es", "fr", "ht", "nl")),
    # The promise of a reply, from RESPONSE_PROMISE_HOURS.
    *((f"promise_text({r.value})", "en", "time") for r in HandoffReason),
    ("queue_notice_text", "en", "time"),
    *((f"system_texts.{name}", lang, "time") for name in ("handoff_promise",
        "handoff_promise_assistant_unavailable", "queue_notice", "faq_offer_person",
        "keyword_help", "telegram_greeting") for lang in ("en", "es", "fr", "ht", "nl")),
    # Fees named without an amount, pointing to where the platform shows them; and the
    # customer's own charge (a payment problem), which is no fee of ours.
    *(("utter_cancel_order", lang, "fee") for lang in ("en", "es", "fr", "ht", "nl")),
    *(("utter_check_cancellation_fee", lang, "fee") for lang in ("en", "es", "fr", "ht", "nl")),
    ("utter_switch_account", "ht", "fee"),
    ("utter_switch_account", "nl", "fee"),
    ("utter_delivery_options", "nl", "fee"),
    ("utter_payment_issue", "en", "fee"),
    ("utter_payment_dispute_first_steps", "en", "fee"),
    ("utter_payment_dispute_first_steps", "es", "fee"),
}  # fmt: skip

# Where the platform shows a fee, in the words of each language's answers.
PLATFORM_PLACES = ("My Orders", "My Account", "Help Centre")
ALL_TEXTS = assistant_texts() | gateway_texts()


def test_the_list_of_texts_that_name_a_team_a_time_or_a_fee_is_complete() -> None:
    found = inventory(ALL_TEXTS)
    assert found - NAMED == set(), "new promises: check what backs them, then list them"
    assert NAMED - found == set(), "listed promises no text makes any more: take them off"


@pytest.mark.parametrize("key", sorted(ALL_TEXTS))
def test_every_promise_is_backed(key: Text) -> None:
    where, name, language = key
    text = ALL_TEXTS[key]
    for promise in find_promises(text):
        if promise.kind == PromiseKind.TEAM:
            # The support team exists: the human queue, answered by these roles.
            # A gateway text may speak several languages at once (unsupported_language's).
            languages = SUPPORT_TEAM if where == "gateway" else (language,)
            assert any(names_support_team(promise.words, lang) for lang in languages), (
                name,
                promise.words,
            )
            assert set(SUPPORT_TEAM_ROLES) <= set(Role)
        elif promise.kind == PromiseKind.TIME:
            # Only the gateway states a time, and only the configured one.
            assert where == "gateway", f"{name} ({language}) states a time: {promise.words!r}"
            # The configured number of hours, in whichever language the text speaks.
            assert promise.words.split()[0] == str(PROMISE), (name, promise.words)
        else:
            assert not states_an_amount(text), f"{name} ({language}) states an amount"
            if "charge" not in promise.words and "cargo" not in promise.words:
                assert any(place in text for place in PLATFORM_PLACES), (name, language)


def test_the_promised_reply_time_covers_every_priority_by_default() -> None:
    # The customer is promised RESPONSE_PROMISE_HOURS; the internal windows must fit in it.
    promise = setting_default("RESPONSE_PROMISE_HOURS")
    targets = ResponseTargets.defaults()
    assert all(t.total_seconds() <= promise * 3600 for t in targets.by_priority.values())


def test_a_team_that_does_not_exist_is_caught() -> None:
    [team] = [
        p
        for p in find_promises("Our payments team will look into it.")
        if p.kind == PromiseKind.TEAM
    ]
    assert not names_support_team(team.words, "en")
    assert names_support_team(
        next(p for p in find_promises("Een medewerker van ons supportteam kijkt.")).words, "nl"
    )
    times = [p.words for p in find_promises("Refunds take 5-7 business days, a $5 fee applies.")]
    assert times == ["5-7 business days", "$5", "fee"]
