"""Loopback helpers for tests (a free port and waiting for HTTP are shared with bench/)."""

from __future__ import annotations

import asyncio
import time

from bench.net import free_port, wait_for_http

__all__ = ["eventually", "free_port", "wait_for_http"]


async def eventually(predicate, *, timeout: float = 5.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Await until `predicate()` (sync or async) returns a truthy value; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
