"""The held-out evaluation set stays held out, and stays big enough to mean something."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.assistant_model import PROJECT_ROOT, TRAINING_INPUTS

EVALUATION = PROJECT_ROOT / "evaluation"
CATALOGUE_TOPICS = {
    "create_account", "edit_account", "delete_account", "switch_account", "recover_password",
    "registration_problems", "place_order", "cancel_order", "change_order", "track_order",
    "delivery_options", "delivery_period", "set_up_shipping_address", "change_shipping_address",
    "check_payment_methods", "payment_issue", "check_invoice", "get_invoice",
    "check_cancellation_fee", "check_refund_policy", "get_refund", "track_refund",
    "contact_customer_service", "contact_human_agent", "complaint", "review",
    "newsletter_subscription",
}  # fmt: skip
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def normalised(text: str) -> str:
    return " ".join(_ANNOTATION.sub(r"\1", text).lower().split())


def evaluation_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def training_examples() -> set[str]:
    examples: set[str] = set()
    for path in (PROJECT_ROOT / "data").rglob("*.yml"):
        for item in (yaml.safe_load(path.read_text()) or {}).get("nlu", []) or []:
            for line in str(item.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    examples.add(normalised(line.strip()[2:]))
    return examples


LANGUAGES = sorted(p.name for p in EVALUATION.iterdir() if (p / "in_scope").is_dir())


def test_every_language_covers_the_whole_catalogue() -> None:
    assert "en" in LANGUAGES
    for language in LANGUAGES:
        topics = {p.stem for p in (EVALUATION / language / "in_scope").glob("*.txt")}
        assert topics == CATALOGUE_TOPICS, language


def test_the_english_set_is_large_enough_to_trust() -> None:
    for path in (EVALUATION / "en" / "in_scope").glob("*.txt"):
        assert len(set(evaluation_lines(path))) >= 60, path.name
    off_topic = [
        line
        for path in (EVALUATION / "en" / "out_of_scope").glob("*.txt")
        for line in evaluation_lines(path)
    ]
    assert len(set(off_topic)) >= 1000


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_evaluation_request_is_a_training_example(language: str) -> None:
    trained = training_examples()
    leaked = [
        f"{path.relative_to(EVALUATION)}: {line}"
        for path in sorted((EVALUATION / language).rglob("*.txt"))
        for line in evaluation_lines(path)
        if normalised(line) in trained
    ]
    assert leaked == []


def test_the_training_data_never_reads_the_evaluation_folder() -> None:
    # Rasa trains on data/ only (bot/assistant_model.py); the evaluation must stay outside it.
    assert not EVALUATION.resolve().is_relative_to((PROJECT_ROOT / "data").resolve())
    assert not any(name.startswith("evaluation") for name in TRAINING_INPUTS)


def test_the_leak_check_can_fail() -> None:
    sample = evaluation_lines(next((EVALUATION / "en" / "in_scope").glob("*.txt")))[0]
    assert normalised("  " + sample.upper() + " ") == normalised(sample)
