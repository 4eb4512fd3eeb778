"""Reps, supervisors and admins: creating, listing, deactivating, and checking a login."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lifecycle import Actor, transition
from bot.store.models import (
    Conversation,
    ConversationState,
    Rep,
    RepLanguage,
    RepTeam,
    Role,
    utcnow,
)
from handoff import passwords, throttle
from handoff.errors import Conflict, Invalid, NotAuthenticated, NotFound
from handoff.roster import NEW_REP_LANGUAGES, clean_languages
from handoff.tokens import revoke_all

logger = logging.getLogger(__name__)

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,49}$")
WRONG_LOGIN = "Wrong username or password."


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not _USERNAME.match(name):
        raise Invalid(
            "A username is 2 to 50 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit."
        )
    return name


async def create_rep(
    *,
    session: AsyncSession,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    now: datetime | None = None,
    teams: Sequence[str] = (),
    languages: Sequence[str] = NEW_REP_LANGUAGES,
) -> Rep:
    """Add a person who can sign in to the console and API, in `teams`, speaking `languages`
    (team keys checked by the caller against the routing table)."""
    name = check_username(username)
    shown = " ".join(display_name.split())
    if not shown or len(shown) > 200:
        raise Invalid("The display name must be 1 to 200 characters.")
    passwords.check_password_strength(password, username=name)
    if await session.scalar(select(Rep.id).where(Rep.username == name)) is not None:
        raise Conflict(f"A user named {name!r} exists already.")
    rep = Rep(
        username=name,
        display_name=shown,
        role=role,
        password_hash=await passwords.hash_password(password),
        active=True,
        created_at=now or utcnow(),
    )
    session.add(rep)
    try:
        await session.flush()
        session.add_all(RepTeam(rep_id=rep.id, team=team) for team in dict.fromkeys(teams))
        session.add_all(
            RepLanguage(rep_id=rep.id, language=code) for code in clean_languages(languages)
        )
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"A user named {name!r} exists already.") from None
    logger.info("rep.created rep_id=%s username=%s role=%s", rep.id, rep.username, rep.role)
    return rep


async def list_reps(*, session: AsyncSession) -> list[Rep]:
    return list(await session.scalars(select(Rep).order_by(Rep.username)))


async def deactivate_rep(
    *, session: AsyncSession, username: str, now: datetime | None = None
) -> tuple[Rep, int]:
    """Stop a person signing in, end their sessions, and put their conversations back in queue.

    Returns the rep and how many conversations went back.
    """
    now = now or utcnow()
    rep = await session.scalar(select(Rep).where(Rep.username == normalise_username(username)))
    if rep is None:
        raise NotFound(f"There is no user named {username!r}.")
    rep.active = False
    rep.deactivated_at = now
    await revoke_all(session=session, rep=rep, now=now)
    owned = await session.scalars(
        select(Conversation).where(
            Conversation.assigned_rep_id == rep.id,
            Conversation.state == ConversationState.ASSIGNED,
        )
    )
    returned = 0
    for conversation in owned:
        back_to = (
            ConversationState.ESCALATED
            if (conversation.tier or 1) >= 2
            else ConversationState.QUEUED
        )
        transition(
            session,
            conversation,
            back_to,
            actor=Actor.SYSTEM,
            reason=f"owner {rep.username} deactivated",
            at=now,
        )
        conversation.assigned_rep_id = None
        returned += 1
    await session.commit()
    logger.info("rep.deactivated rep_id=%s returned_conversations=%s", rep.id, returned)
    return rep, returned


async def authenticate(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    address: str,
    throttles: throttle.LoginThrottles,
    now: datetime | None = None,
) -> Rep:
    """The active rep with these credentials; `NotAuthenticated` or `TooManyAttempts` otherwise.

    Commits the failure count (or its reset), so the throttle holds across instances.
    """
    now = now or utcnow()
    name = normalise_username(username)
    rep = await session.scalar(select(Rep).where(Rep.username == name))
    known = rep if rep is not None and rep.active else None
    # The same checks in the same order whether the name exists or not (handoff/throttle.py).
    if known is not None:
        throttle.refuse_if_blocked(known, now)
    else:
        throttles.unknown_names.refuse_if_blocked(name, now)
    throttles.addresses.refuse_if_blocked(address, now)
    if known is None:
        await passwords.spend_verification_time(password)
        throttles.unknown_names.record_failure(name, now)
        throttles.addresses.record_failure(address, now)
        logger.info("login.failed reason=unknown_user address=%s", address)
        raise NotAuthenticated(WRONG_LOGIN)
    if not await passwords.verify_password(known.password_hash, password):
        failures = await throttle.record_failure(session, known, now)
        await session.commit()
        throttles.addresses.record_failure(address, now)
        logger.info(
            "login.failed reason=wrong_password rep_id=%s failures=%s address=%s",
            known.id,
            failures,
            address,
        )
        raise NotAuthenticated(WRONG_LOGIN)
    rep = known
    throttle.record_success(rep)
    if passwords.needs_rehash(rep.password_hash):
        rep.password_hash = await passwords.hash_password(password)
    return rep
