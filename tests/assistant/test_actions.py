"""Runs the Rasa-side unit tests (tests/rasa_env) in the Rasa environment: custom actions, where
rasa_sdk lives, the platform client against the platform stand-in, and the sentence encoder and
abstain rule of the NLU pipeline (nlu/)."""

from __future__ import annotations

import subprocess

from bot.assistant_model import PROJECT_ROOT, RASA_VENV, rasa_environment


def test_custom_actions_and_the_sentence_encoder() -> None:
    result = subprocess.run(
        [
            str(RASA_VENV / "bin" / "python"),
            "-m",
            "unittest",
            "-v",
            "tests.rasa_env.test_actions",
            "tests.rasa_env.test_encoder",
            "tests.rasa_env.test_action_results",
            "tests.rasa_env.test_tracker_store",
            "tests.rasa_env.test_event_types",
            "tests.rasa_env.test_platform",
            "tests.rasa_env.test_lookups",
            "tests.rasa_env.test_lookup_form",
        ],
        cwd=PROJECT_ROOT,
        env=rasa_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Ran 79 tests" in result.stderr and "OK" in result.stderr, result.stderr[-2000:]
