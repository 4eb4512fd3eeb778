"""Operations: `telegram set-webhook`, `delete-webhook` and `poll` (the real CLI in a process),
and polling feeding the webhook's own processing path."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import migrate
from bot.store.models import Message
from channels.telegram import ALLOWED_UPDATES, poll_updates
from channels.telegram.intake import greeting_text
from tests.support.net import eventually
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.telegram_standin import (
    CUSTOMER,
    WEBHOOK_SECRET,
    TelegramStandIn,
    Updates,
    running_telegram_gateway,
    running_telegram_standin,
)

ANSWER = "Open My Orders to track it."
PUBLIC = "https://assistant.example.com"


@pytest.fixture
async def rasa() -> AsyncIterator[RasaStandIn]:
    async with running_rasa_standin() as rasa:
        yield rasa


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramStandIn]:
    async with running_telegram_standin() as telegram:
        yield telegram


def _environment(
    telegram: TelegramStandIn, database_url: str, rasa_url: str, **extra: str
) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_"))}
    return {
        **keep,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        # The replies are counted: no privacy notice ahead of them.
        "PRIVACY_NOTICE": "",
        "DATABASE_URL": database_url,
        "RASA_URL": rasa_url,
        "PUBLIC_BASE_URL": PUBLIC,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_SECRET_TOKEN": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE_URL": telegram.url,
        **extra,
    }


async def _start_cli(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    # cwd away from the repository, so no developer .env is read.
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", *args,
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _run_cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    process = await _start_cli(env, cwd, *args)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_set_webhook_gives_telegram_the_url_secret_and_update_types(
    telegram: TelegramStandIn, sqlite_url: str, tmp_path: Path
) -> None:
    env = _environment(telegram, sqlite_url, "http://127.0.0.1:9")
    code, output = await _run_cli(env, tmp_path, "telegram", "set-webhook")
    assert code == 0, output
    assert telegram.webhook is not None
    assert telegram.webhook["url"] == f"{PUBLIC}/channels/telegram/webhook"
    assert telegram.webhook["secret_token"] == WEBHOOK_SECRET
    assert telegram.webhook["allowed_updates"] == list(ALLOWED_UPDATES)
    assert f"{PUBLIC}/channels/telegram/webhook" in output

    # While a webhook is set Telegram refuses getUpdates: polling says what to do.
    code, output = await _run_cli(env, tmp_path, "telegram", "poll", "--timeout", "1")
    assert code == 1 and "telegram delete-webhook" in output

    code, output = await _run_cli(env, tmp_path, "telegram", "delete-webhook")
    assert code == 0 and telegram.webhook is None


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("TELEGRAM_SECRET_TOKEN", "", "TELEGRAM_SECRET_TOKEN must be set"),
        ("TELEGRAM_SECRET_TOKEN", "has spaces in it", "TELEGRAM_SECRET_TOKEN must be set"),
        ("TELEGRAM_BOT_TOKEN", "", "TELEGRAM_BOT_TOKEN is not set"),
    ],
)
async def test_set_webhook_refuses_a_missing_or_invalid_setting(
    telegram: TelegramStandIn, sqlite_url: str, tmp_path: Path, setting: str, value: str, says: str
) -> None:
    env = _environment(telegram, sqlite_url, "http://127.0.0.1:9", **{setting: value})
    code, output = await _run_cli(env, tmp_path, "telegram", "set-webhook")
    assert code == 2 and says in output
    assert telegram.calls == []


async def test_a_refused_token_is_reported_without_showing_it(
    telegram: TelegramStandIn, sqlite_url: str, tmp_path: Path
) -> None:
    wrong = "987654321:AAwrong-token-value"
    env = _environment(telegram, sqlite_url, "http://127.0.0.1:9", TELEGRAM_BOT_TOKEN=wrong)
    code, output = await _run_cli(env, tmp_path, "telegram", "delete-webhook")
    assert code == 1 and "Telegram refused" in output
    assert wrong not in output and "AAwrong-token-value" not in output


async def test_poll_answers_updates_through_the_webhook_path_and_stops_on_ctrl_c(
    telegram: TelegramStandIn, rasa: RasaStandIn, sqlite_url: str, tmp_path: Path
) -> None:
    updates = Updates()
    question = updates.message("where is my order")
    start = updates.message("/start")
    telegram.queue_update(question)
    telegram.queue_update(start)
    env = _environment(telegram, sqlite_url, rasa.url)
    process = await _start_cli(env, tmp_path, "telegram", "poll", "--timeout", "1")
    try:
        await eventually(lambda: len(telegram.sent_to(CUSTOMER["id"])) >= 2, timeout=30)
        later = updates.message("and my refund?")
        telegram.queue_update(later)  # arrives during a long poll
        await eventually(lambda: len(telegram.sent_to(CUSTOMER["id"])) >= 3, timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    output = stderr.decode()
    assert process.returncode == 0, output
    assert "Polling Telegram as @CaricomConnectsBot" in output
    assert f"update {question['update_id']}: accepted" in output
    assert f"update {start['update_id']}: recorded" in output
    assert output.rstrip().endswith("Stopped.") and "Traceback" not in output

    texts = sorted(m["text"] for m in telegram.sent_to(CUSTOMER["id"]))
    assert texts == sorted([ANSWER, ANSWER, greeting_text(24)])
    assert [r["message"] for r in rasa.received] == ["where is my order", "and my refund?"]
    polls = telegram.calls_to("getUpdates")
    assert all(c.params["allowed_updates"] == list(ALLOWED_UPDATES) for c in polls)
    # The first batch was confirmed (the offset moved past it) once it had been handled.
    assert [c.params.get("offset") for c in polls][:2] == [None, str(start["update_id"] + 1)]
    assert len(telegram.calls_to("getMe")) == 1


async def test_an_update_polled_while_the_store_is_down_is_fetched_again_and_answered(
    tmp_path: Path, rasa: RasaStandIn
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    url = f"sqlite:///{store / 'store.db'}"
    migrate.upgrade(url)
    async with running_telegram_gateway(url, rasa.url) as live:
        channel = live.gateway.services.channel("telegram").bot  # type: ignore[attr-defined]
        assert channel is not None
        store.rename(tmp_path / "away")
        await live.gateway.services.engine.dispose()
        update = live.updates.message("where is my order")
        live.telegram.queue_update(update)
        report: list[str] = []
        polling = asyncio.create_task(
            poll_updates(channel, report=report.append, long_poll_seconds=1, retry_seconds=0.2)
        )
        try:
            await eventually(lambda: any("could not be stored" in line for line in report))
            (tmp_path / "away").rename(store)
            await live.gateway.services.engine.dispose()
            await eventually(lambda: live.telegram.sent_to(CUSTOMER["id"]), timeout=10)
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
        assert f"update {update['update_id']}: accepted" in report
        [customer] = await live.rows(Message, sender_kind="customer")
        assert customer.external_id == str(update["update_id"])
        assert [m["text"] for m in live.telegram.sent_to(CUSTOMER["id"])] == [ANSWER]


async def test_polling_keeps_the_per_chat_rate_limit(sqlite_url: str, rasa: RasaStandIn) -> None:
    async with running_telegram_gateway(
        sqlite_url, rasa.url, RATE_LIMIT_BURST=1, RATE_LIMIT_PER_MINUTE=0.001
    ) as live:
        bot = live.gateway.services.channel("telegram").bot  # type: ignore[attr-defined]
        assert bot is not None
        first = live.updates.message("where is my order")
        flood = live.updates.message("where is my order??")
        live.telegram.queue_update(first)
        live.telegram.queue_update(flood)
        report: list[str] = []
        polling = asyncio.create_task(
            # The limit is the gateway's own: polling hands updates to the same inbox.
            poll_updates(bot, report=report.append, long_poll_seconds=1)
        )
        try:
            await eventually(lambda: len(report) == 2, timeout=10)
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
        assert report[1] == f"update {flood['update_id']}: rate_limited"
        stored = await live.rows(Message, sender_kind="customer")
        assert [m.payload.get("rate_limited") if m.payload else None for m in stored] == [
            None,
            True,
        ]
        assert [turn["message"] for turn in rasa.received] == ["where is my order"]
