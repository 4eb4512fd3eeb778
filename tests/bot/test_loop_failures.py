"""A background loop's failures are logged in full once, then briefly, and its recovery noted."""

from __future__ import annotations

import logging

import pytest

from bot.loop_failures import LoopFailures


def test_an_outage_logs_one_traceback_then_a_line_a_minute_then_the_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = LoopFailures(logging.getLogger("loop"), "outbox.poll_failed", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="loop"):
        for second in range(0, 130):  # a round a second for two minutes and more
            now[0] = float(second)
            failures.failed(ConnectionRefusedError("the store is down"))
        failures.succeeded()
        failures.succeeded()  # nothing more to say

    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert lines == [
        ("ERROR", "outbox.poll_failed", True),
        ("WARNING", "outbox.poll_failed failures=61 error=ConnectionRefusedError", False),
        ("WARNING", "outbox.poll_failed failures=121 error=ConnectionRefusedError", False),
        ("WARNING", "outbox.poll_failed_recovered failures=130", False),
    ]


def test_a_new_outage_after_a_recovery_is_logged_in_full_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = LoopFailures(logging.getLogger("loop"), "turn.sweep_failed", clock=lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="loop"):
        failures.failed(RuntimeError("one"))
        failures.succeeded()
        failures.failed(RuntimeError("two"))
    assert [r.exc_info is not None for r in caplog.records] == [True, False, True]
