"""A circuit breaker for a dependency a turn waits on (the platform, actions/platform.py).

After FAILURES_TO_OPEN failed calls in a row the breaker opens: calls fail at once for OPEN_FOR
seconds, then one trial call is let through (half-open) to see if the dependency is back.
"""

import logging
import time
from typing import Callable, Optional, Text

logger = logging.getLogger(__name__)

FAILURES_TO_OPEN = 3
OPEN_FOR = 30.0


class CircuitBreaker:
    """Closed (calls go through), open (they fail at once), half-open (one trial call)."""

    def __init__(
        self,
        *,
        failures_to_open: int = FAILURES_TO_OPEN,
        open_for: float = OPEN_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures_to_open = failures_to_open
        self._open_for = open_for
        self._clock = clock
        self._failures = 0
        self._opened_at: Optional[float] = None
        self._trial_running = False

    @property
    def state(self) -> Text:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._open_for:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, only the one trial call may."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def abandoned(self) -> None:
        """A call given up by its caller before it ended: it proved nothing either way."""
        self._trial_running = False

    def failed(self) -> None:
        self._trial_running = False
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._failures_to_open:
            # A failed trial opens it again for a full period.
            if self._opened_at is None or self.state == "half_open":
                logger.warning("platform.breaker_opened failures=%s", self._failures)
            self._opened_at = self._clock()
