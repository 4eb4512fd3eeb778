"""Signing in: tokens, throttling of repeated failures (in the store, so across instances), logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.store.models import Rep, utcnow
from handoff.accounts import authenticate
from handoff.errors import NotAuthenticated, TooManyAttempts
from handoff.throttle import FIRST_BLOCK, MAX_BLOCK, block_for
from tests.handoff.conftest import Desk, running_desk
from tests.handoff.factories import PASSWORD


def test_blocks_double_from_the_fourth_failure_up_to_fifteen_minutes() -> None:
    assert [block_for(n) for n in (1, 2)] == [None, None]
    assert [block_for(n) for n in (3, 4, 5)] == [FIRST_BLOCK, FIRST_BLOCK * 2, FIRST_BLOCK * 4]
    assert block_for(40) == MAX_BLOCK == timedelta(minutes=15)


async def _login(desk: Desk, username: str, password: str) -> tuple[int, str | None]:
    response = await desk.http.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    return response.status_code, response.headers.get("retry-after")


async def _end_block(desk: Desk, username: str) -> None:
    """Let the current block run out (as time passing would), the client address's too."""
    desk.services.desk.login_throttles.addresses.let_block_end("127.0.0.1", utcnow())
    async with desk.services.session_factory() as session:
        await session.execute(
            update(Rep)
            .where(Rep.username == username)
            .values(login_blocked_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def test_a_token_is_issued_for_the_right_password(desk: Desk) -> None:
    await desk.rep("ann")
    response = await desk.http.post(
        "/api/auth/login", json={"username": "ANN ", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) >= 40
    me = await desk.http.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"id": 1, "username": "ann", "display_name": "Ann", "role": "rep"}


async def test_repeated_failures_are_throttled_with_a_doubling_retry_after(desk: Desk) -> None:
    await desk.rep("ann")
    for _ in range(3):
        assert await _login(desk, "ann", "wrong password!") == (401, None)
    status, retry_after = await _login(desk, "ann", PASSWORD)  # even the right one waits
    assert status == 429 and retry_after is not None
    assert 25 <= int(retry_after) <= 30

    await _end_block(desk, "ann")
    assert (await _login(desk, "ann", "wrong again!!"))[0] == 401
    status, retry_after = await _login(desk, "ann", PASSWORD)
    assert status == 429 and retry_after is not None and 55 <= int(retry_after) <= 60

    async with desk.services.session_factory() as session:
        await session.execute(update(Rep).values(failed_logins=30))
        await session.commit()
    await _end_block(desk, "ann")
    assert (await _login(desk, "ann", "wrong again!!"))[0] == 401
    status, retry_after = await _login(desk, "ann", PASSWORD)
    assert status == 429 and retry_after is not None and 890 <= int(retry_after) <= 900

    await _end_block(desk, "ann")
    assert (await _login(desk, "ann", PASSWORD))[0] == 200
    [rep] = await desk.all(Rep, username="ann")
    assert rep.failed_logins == 0 and rep.login_blocked_until is None


async def test_the_throttle_holds_across_gateway_instances(sqlite_url: str) -> None:
    async with running_desk(sqlite_url) as first, running_desk(sqlite_url) as second:
        await first.rep("ann")
        for _ in range(3):
            assert (await _login(first, "ann", "wrong password!"))[0] == 401
        assert (await _login(second, "ann", PASSWORD))[0] == 429


async def test_unknown_usernames_are_throttled_per_address(desk: Desk) -> None:
    for name in ("mallory", "trent", "eve"):
        assert await _login(desk, name, "guessing-a-password") == (401, None)
    status, retry_after = await _login(desk, "victor", "guessing-a-password")
    assert status == 429 and retry_after is not None


async def test_a_deactivated_rep_cannot_sign_in(desk: Desk) -> None:
    await desk.rep("ann", active=False)
    assert (await _login(desk, "ann", PASSWORD))[0] == 401


async def test_passwords_and_tokens_never_reach_the_logs(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await desk.rep("ann")
    await _login(desk, "ann", "a-wrong-password-123")
    token = await desk.token("ann")
    await desk.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert "login.failed" in caplog.text  # the failure is logged, without what was typed
    for secret in (PASSWORD, "a-wrong-password-123", token):
        assert secret not in caplog.text


async def test_known_and_unknown_names_are_answered_alike_from_a_blocked_address(
    desk: Desk,
) -> None:
    await desk.rep("ann")
    for name in ("mallory", "trent", "eve"):
        assert (await _login(desk, name, "guessing-a-password"))[0] == 401
    # The address is blocked: a real name must not answer differently (401 told it exists).
    assert (await _login(desk, "ann", "guessing-a-password"))[0] == 429
    assert (await _login(desk, "zed", "guessing-a-password"))[0] == 429


async def test_an_unknown_name_is_blocked_after_three_failures_like_a_real_one(
    desk: Desk,
) -> None:
    await desk.rep("ann")
    throttles = desk.services.desk.login_throttles

    async def attempt(username: str, address: str) -> str:
        async with desk.services.session_factory() as session:
            try:
                await authenticate(
                    session=session,
                    username=username,
                    password="guessing-a-password",
                    address=address,
                    throttles=throttles,
                )
            except TooManyAttempts:
                return "blocked"
            except NotAuthenticated:
                return "wrong"
        return "signed in"

    # From a new address each time, as a spread-out attacker would.
    for name in ("ann", "nobody"):
        answers = [await attempt(name, f"203.0.113.{n}") for n in range(1, 5)]
        assert answers == ["wrong", "wrong", "wrong", "blocked"], name
