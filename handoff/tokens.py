"""Console sessions and API tokens: random tokens of which the store keeps only a hash.

A console session's CSRF token is derived from its session token with HMAC, so it is fixed for
the session, needs no storage, and cannot be computed without the (HttpOnly) session cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Rep, RepSession, SessionKind

LIFETIME: dict[SessionKind, timedelta] = {
    SessionKind.CONSOLE: timedelta(hours=12),  # a working day
    SessionKind.API: timedelta(hours=12),
}
_MAX_TOKEN_CHARS = 200


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # shown once, to the client; never stored or logged
    expires_at: datetime


async def issue_token(
    *, session: AsyncSession, rep: Rep, kind: SessionKind, now: datetime
) -> IssuedToken:
    """Open a session for `rep` (caller commits) and return its token."""
    # Expired rows of this rep are no use to anyone: tidy them as we go.
    await session.execute(
        delete(RepSession).where(RepSession.rep_id == rep.id, RepSession.expires_at < now)
    )
    token = secrets.token_urlsafe(32)
    expires_at = now + LIFETIME[kind]
    session.add(
        RepSession(
            rep_id=rep.id,
            token_hash=_digest(token),
            kind=kind,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedToken(token=token, expires_at=expires_at)


async def rep_for_token(
    *, session: AsyncSession, token: str, kind: SessionKind, now: datetime
) -> Rep | None:
    """The active rep whose live session `token` opens, or None."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    rep: Rep | None = await session.scalar(
        select(Rep)
        .join(RepSession, RepSession.rep_id == Rep.id)
        .where(
            RepSession.token_hash == _digest(token),
            RepSession.kind == kind,
            RepSession.revoked_at.is_(None),
            RepSession.expires_at > now,
            Rep.active.is_(True),
        )
    )
    return rep


async def revoke_token(*, session: AsyncSession, token: str, now: datetime) -> None:
    """End the session `token` opens (caller commits); unknown tokens are ignored."""
    await session.execute(
        update(RepSession)
        .where(RepSession.token_hash == _digest(token), RepSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_all(*, session: AsyncSession, rep: Rep, now: datetime) -> None:
    await session.execute(
        update(RepSession)
        .where(RepSession.rep_id == rep.id, RepSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def csrf_token(session_token: str) -> str:
    """The CSRF token for forms of the console session `session_token`."""
    return hmac.new(session_token.encode(), b"console-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session_token), str(given))
