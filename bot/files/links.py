"""Expiring links to stored files: the key and an expiry time, signed with HMAC-SHA256.

A link cannot be made for another file or made to live longer without the secret
(FILE_LINK_SECRET, the same on every instance so any of them can serve a link another made).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode


class FileLinks:
    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        # No secret configured: one for this process only (development, one instance).
        self._secret = (secret or secrets.token_urlsafe(32)).encode()
        self._clock = clock

    def _signature(self, purpose: str, key: str, expires: int) -> str:
        message = f"{purpose}\n{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def query(self, purpose: str, key: str, *, seconds: int) -> str:
        """`expires=…&signature=…` for a link to `key` living `seconds` from now."""
        expires = int(self._clock()) + seconds
        return urlencode({"expires": expires, "signature": self._signature(purpose, key, expires)})

    def valid(self, purpose: str, key: str, expires: int, signature: str) -> bool:
        """The link was made here (or by an instance with the same secret) and still lives."""
        if expires < self._clock():
            return False
        return hmac.compare_digest(self._signature(purpose, key, expires), signature)


MEDIA_LINK = "media"  # what a link to a rep's file sent to a customer is for
MEDIA_PATH = "/channels/media"


class MediaLinks:
    """Public, expiring links to files reps send customers: for Twilio to fetch (MMS and
    WhatsApp media) and for a web chat customer to open. Only reps' files are served so."""

    def __init__(self, links: FileLinks, *, base_url: str, seconds: int) -> None:
        self.links = links
        self._base_url = base_url.rstrip("/")
        self._seconds = seconds

    def url(self, key: str) -> str:
        query = self.links.query(MEDIA_LINK, key, seconds=self._seconds)
        return f"{self._base_url}{MEDIA_PATH}/{key}?{query}"
