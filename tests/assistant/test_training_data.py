"""Rasa's own checks of the assistant: data validation and the conversation tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from bot.assistant_model import PROJECT_ROOT, ensure_model, rasa_environment, rasa_executable

pytestmark = pytest.mark.rasa


def _rasa(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(rasa_executable()), *args],
        cwd=cwd,
        env=rasa_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_rasa_data_validate() -> None:
    result = _rasa(
        "data", "validate", "--config", "config.yml", "--domain", "domain.yml", "--data", "data"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_conversation_tests_pass(tmp_path: Path) -> None:
    # --e2e: without it `rasa test core` trusts the story's intent label and never runs NLU on
    # the customer's words, so a misunderstood question would still pass.
    model = ensure_model(quiet=True)
    stories = yaml.safe_load((PROJECT_ROOT / "tests/test_stories.yml").read_text())["stories"]
    result = _rasa(
        "test", "core", "--e2e", "--model", str(model), "--stories", "tests/test_stories.yml",
        "--out", str(tmp_path), "--fail-on-prediction-errors",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # Every story was evaluated (e2e mode reads only files named test_*.yml).
    assert f"Correct:          {len(stories)} / {len(stories)}" in output, output[-4000:]


def test_every_answer_fits_a_phone_screen() -> None:
    responses = yaml.safe_load((PROJECT_ROOT / "data/responses/faq.yml").read_text())["responses"]
    too_long = {
        name: len(v["text"])
        for name, variants in responses.items()
        for v in variants
        if len(v["text"]) > 400
    }
    assert too_long == {}


def test_every_self_service_intent_has_an_answer_and_a_rule() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    responses = yaml.safe_load((PROJECT_ROOT / "data/responses/faq.yml").read_text())["responses"]
    rules = "".join(p.read_text() for p in (PROJECT_ROOT / "data/rules").glob("*.yml"))
    handed_off = {"contact_human_agent", "complaint", "payment_dispute", "account_compromised"}
    small_talk = {"affirm", "deny", "out_of_scope", "bot_challenge"}
    for intent in set(domain["intents"]) - handed_off - small_talk:
        assert f"utter_{intent}" in responses, intent
        assert f"- intent: {intent}\n" in rules, intent
