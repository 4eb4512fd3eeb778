"""A web chat conversation's address: a hash of the session id, never the id itself.

A web chat session id is a bearer secret: whoever presents it receives that customer's replies
(channels/webchat_sessions.py). The store, its exports and its backups would hand out live
sessions if they held it, so a conversation (and each of its deliveries) holds its SHA-256
instead, and the gateway sends to a Socket.IO room of that name, which a socket joins only by
presenting the id. The ids are 192 random bits, so an unkeyed hash cannot be turned back.
"""

from __future__ import annotations

import hashlib

PREFIX = "s256:"


def webchat_address(session_id: str) -> str:
    """The address a web chat session's conversation, room and presence are known by."""
    return PREFIX + hashlib.sha256(session_id.encode()).hexdigest()
