"""`GET /channels/media/{key}`: files reps sent customers, through expiring signed links.

Twilio fetches MMS and WhatsApp media from a URL, and a web chat customer opens a link; neither
can sign in, so the link itself (bot/files/links.py, `MediaLinks`) is the permission, and it
runs out. Only reps' files (the `replies` folder) are served here, never customers' uploads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from bot.files.links import MEDIA_LINK, MEDIA_PATH, FileLinks
from bot.files.store import FileStore, valid_key

REPS_FOLDER = "replies"


def media_router(files: FileStore, links: FileLinks) -> APIRouter:
    router = APIRouter(tags=["media"])

    @router.get(MEDIA_PATH + "/{folder}/{name}")
    async def media(
        folder: str,
        name: str,
        expires: Annotated[int, Query()],
        signature: Annotated[str, Query(max_length=128)],
    ) -> Response:
        """A rep's file, while its link lives."""
        key = f"{folder}/{name}"
        if (
            folder != REPS_FOLDER
            or not valid_key(key)
            or not links.valid(MEDIA_LINK, key, expires, signature)
        ):
            raise HTTPException(404, "This link has expired or is not valid.")
        found = await files.get(key)
        if found is None:
            raise HTTPException(404, "This file is no longer kept.")
        return Response(
            found.data,
            media_type=found.content_type,
            headers={
                "Cache-Control": "private, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Content-Disposition": f'inline; filename="{name}"',
            },
        )

    return router
