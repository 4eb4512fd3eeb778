"""Turn workers: vendor channels' turns run apart from the gateway that acknowledges them.

With `TURNS_IN_WORKERS`, a gateway stores a vendor's message, answers the webhook and goes on:
its event loop holds no turns, so a backlog of them never delays an acknowledgement. Worker
processes (`caricom worker`) find the messages in the store and route them with the same
router, claims and leases as several gateways use: of workers racing, one takes a message; one
that dies mid-turn leaves a lease another takes over. Web chat's customers wait on an open
socket for their answer, so their turns stay in the gateway (`LIVE_CHANNELS`).

A worker looks for new messages when a gateway says some wait (bot/turn_signal.py), and every
`TURN_WORKER_POLL_SECONDS` in case a word was lost; it runs at most
`TURN_WORKER_CONCURRENCY` turns at once; what waits beyond that stays in the store, counted in
`/metrics` and `/readyz` (`TurnClaims.backlog`). A turn that failed is retried on the sweep's
slower rhythm (`TURN_SWEEP_SECONDS`), as on the gateway, so a failing assistant does not use up
a message's attempts in a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from bot.loop_failures import LoopFailures
from bot.messages import Channel
from bot.router import ConversationRouter
from bot.turn_signal import TurnSignal

logger = logging.getLogger(__name__)

# Channels whose customer waits on an open connection for the turn: routed where they arrive.
LIVE_CHANNELS = frozenset({Channel.WEBCHAT})
# Channels whose vendor is answered once the message is stored: routed by workers when enabled.
WORKER_CHANNELS = frozenset(set(Channel) - LIVE_CHANNELS)


class TurnWorker:
    """Claims and routes pending customer messages of `WORKER_CHANNELS`, a few at a time."""

    def __init__(
        self,
        router: ConversationRouter,
        *,
        concurrency: int,
        poll_seconds: float,
        sweep_seconds: float,
        signal: TurnSignal | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._router = router
        self._signal = signal  # the gateways' word that messages wait; None: polling only
        self._slots = asyncio.Semaphore(concurrency)
        self._poll_seconds = poll_seconds
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._running: dict[int, asyncio.Task[None]] = {}
        self._failures = LoopFailures(logger, "worker.poll_failed")

    @property
    def running(self) -> int:
        """Turns this worker is running now."""
        return len(self._running)

    async def run(self) -> None:
        """Look for work until cancelled; then stop the turns in flight (their claims go back)."""
        next_sweep = 0.0
        try:
            while True:
                now = self._clock()
                sweep = now >= next_sweep
                try:
                    conversations = await self._router.pending_conversations(
                        channels=WORKER_CHANNELS,
                        # The sweep also takes failed turns back and leases that ran out;
                        # between sweeps only messages never tried, without waiting.
                        untried_only=not sweep,
                        older_than=timedelta(seconds=self._sweep_seconds) if sweep else timedelta(),
                    )
                    if sweep:
                        next_sweep = now + self._sweep_seconds
                    for conversation_id in conversations:
                        await self._start(conversation_id)
                    self._failures.succeeded()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    # A store outage must not end the worker: log and look again next time.
                    self._failures.failed(error)
                if self._signal is None:
                    await asyncio.sleep(self._poll_seconds)
                else:
                    await self._signal.wait(self._poll_seconds)
        finally:
            await self._stop_turns()

    async def _start(self, conversation_id: int) -> None:
        if conversation_id in self._running:
            return  # its loop takes whatever else the conversation has waiting
        # Waits for a free slot: what is not taken yet stays in the store for any worker.
        await self._slots.acquire()
        task = asyncio.create_task(self._route(conversation_id), name=f"turn-{conversation_id}")
        self._running[conversation_id] = task

    async def _route(self, conversation_id: int) -> None:
        try:
            await self._router.process(conversation_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The router logs and hands back a turn that failed; anything else is logged here
            # so one conversation's error does not stop the worker.
            logger.exception("worker.turn_failed conversation_id=%s", conversation_id)
        finally:
            self._running.pop(conversation_id, None)
            self._slots.release()

    async def _stop_turns(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
