"""How a background loop reports its failed rounds: the first in full, then briefly, then the end.

During an outage (the store gone, Redis gone) a loop that runs every second would otherwise
write the same traceback every second. The first failure is logged with its traceback, later
ones as one line at most once a minute with how many there were, and the first good round after
them as `<event>_recovered`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

REPEAT_EVERY_SECONDS = 60.0


class LoopFailures:
    """Failure logging for one loop; `event` is its log event name (e.g. "outbox.poll_failed")."""

    def __init__(
        self,
        logger: logging.Logger,
        event: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._event = event
        self._clock = clock
        self._failures = 0
        self._logged_at = 0.0

    def failed(self, error: BaseException) -> None:
        """Call from the loop's `except` block."""
        self._failures += 1
        now = self._clock()
        if self._failures == 1:
            self._logger.error(self._event, exc_info=error)
            self._logged_at = now
        elif now - self._logged_at >= REPEAT_EVERY_SECONDS:
            self._logger.warning(
                "%s failures=%s error=%s", self._event, self._failures, type(error).__name__
            )
            self._logged_at = now

    def succeeded(self) -> None:
        """Call after a good round."""
        if self._failures:
            self._logger.warning("%s_recovered failures=%s", self._event, self._failures)
            self._failures = 0
