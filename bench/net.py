"""Loopback helpers for the processes benchmarks and tests start: a free port, waiting for HTTP."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, *, timeout: float, ok_status: int = 200) -> bool:
    """Poll `url` until it answers `ok_status` (blocking)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Only the loopback URLs of processes started here (http://127.0.0.1:…).
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == ok_status:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    return False
