"""Request body size limits by path prefix, enforced before a route reads the body.

A declared `Content-Length` over the limit is refused at once; a body sent without one (chunked)
is counted as it arrives and refused as soon as it passes the limit. The answer is 413 with a
JSON `detail` saying what the limit is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# How much of an oversized streamed body is read and dropped before answering, in limits.
_DRAIN_FACTOR = 16


class BodySizeLimit:
    """ASGI middleware: the first matching `(path prefix or pattern, max bytes)` applies to a
    request."""

    def __init__(
        self, app: ASGIApp, *, limits: Sequence[tuple[str | re.Pattern[str], int]]
    ) -> None:
        self.app = app
        self.limits = tuple(limits)

    def _limit_for(self, path: str) -> int | None:
        for prefix, limit in self.limits:
            if isinstance(prefix, re.Pattern):
                if prefix.match(path):
                    return limit
            elif path.startswith(prefix):
                return limit
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit_for(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        received = 0
        started = False
        refused = False
        more_body = True

        async def limited_receive() -> Message:
            nonlocal received, refused, more_body
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                more_body = bool(message.get("more_body", False))
                if received > limit:
                    # To the route the client has gone away; the 413 is sent below.
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            # Read (and drop) a bounded rest of the body first: a client still sending when
            # the connection closes would see a broken connection instead of the answer.
            drained = 0
            while more_body and drained < _DRAIN_FACTOR * limit:
                message = await receive()
                if message["type"] != "http.request":
                    break
                drained += len(message.get("body", b""))
                more_body = bool(message.get("more_body", False))
            await _too_large(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"detail": f"The request body is too large: at most {limit:,} bytes are accepted here."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
