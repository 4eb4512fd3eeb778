"""Whether a file may be kept, and the file as it is kept: one check for customers and reps."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

from starlette.requests import Request

from bot.files.kinds import DESCRIBED, SNIFF_BYTES, FileKind, sniff
from bot.files.scrub import UnreadableImage, without_metadata

MAX_NAME_CHARS = 120


class NotAccepted(ValueError):
    """The file is not one we take; the message says why, for the person who sent it."""


async def accepted(data: bytes) -> tuple[bytes, FileKind]:
    """The file to keep (a photo without its metadata) and its kind; `NotAccepted` otherwise."""
    kind = sniff(data[:SNIFF_BYTES])
    if kind is None:
        raise NotAccepted(f"Only {DESCRIBED} can be sent here.")
    if not kind.is_image:
        return data, kind
    try:
        return await asyncio.to_thread(without_metadata, data, kind)
    except UnreadableImage as error:
        raise NotAccepted("That photo could not be read. Please try another.") from error


def file_name(header: str | None) -> str | None:
    """A file's name as a client sent it (URI-encoded), cleaned for showing; None if blank."""
    if not header:
        return None
    name = re.sub(r"[\x00-\x1f\x7f/\\\\]+", " ", unquote(header)).strip()
    return name[:MAX_NAME_CHARS] or None


class TooLarge(Exception):
    pass


async def read_at_most(request: Request, limit: int) -> bytes:
    """The body, read as it streams in; `TooLarge` as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
