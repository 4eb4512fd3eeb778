"""Password hashing (argon2id) off the event loop, and the rule for acceptable passwords."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from handoff.errors import Invalid

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # hashing cost grows with length; nobody types more

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def check_password_strength(password: str, *, username: str) -> None:
    """Raise `Invalid` with what is wrong when `password` is not acceptable."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(f"The password must be at least {MIN_PASSWORD_CHARS} characters long.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise Invalid(f"The password must be at most {MAX_PASSWORD_CHARS} characters long.")
    if password.strip().lower() == username.strip().lower():
        raise Invalid("The password must not be the username.")


async def hash_password(password: str) -> str:
    # argon2 takes tens of milliseconds of CPU on purpose: never on the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; False for a mismatch or an unreadable hash."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


async def spend_verification_time(password: str) -> None:
    """Take as long as a real check, so an unknown username cannot be told from a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = await hash_password("not-a-real-password-for-timing")
    await verify_password(_dummy_hash, password)
