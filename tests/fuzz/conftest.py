"""A gateway with every channel configured, served on loopback from its own thread, so that
hypothesis and schemathesis (both synchronous) can drive it while it runs its own event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from bot.store import migrate
from bot.store.models import Message, Rep, Role, SessionKind, utcnow
from handoff.tokens import issue_token
from tests.conftest import make_settings
from tests.handoff.factories import make_rep
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin
from tests.support.telegram_standin import WEBHOOK_SECRET, running_telegram_standin
from tests.support.twilio_standin import TwilioStandIn, running_twilio_standin, twilio_settings

T = TypeVar("T")


@dataclass
class ThreadedGateway:
    gateway: LiveGateway
    loop: asyncio.AbstractEventLoop
    rasa: RasaStandIn
    twilio: TwilioStandIn

    @property
    def url(self) -> str:
        return self.gateway.url

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coroutine` on the gateway's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def message_count(self) -> int:
        async def count() -> int:
            async with self.gateway.services.session_factory() as session:
                return int(await session.scalar(select(func.count(Message.id))) or 0)

        return self.run(count())

    def rep_token(self, username: str = "fuzz-admin") -> str:
        async def mint() -> str:
            async with self.gateway.services.session_factory() as session:
                rep = await session.scalar(select(Rep).where(Rep.username == username))
                if rep is None:
                    rep = await make_rep(session, username, Role.ADMIN)
                issued = await issue_token(
                    session=session, rep=rep, kind=SessionKind.API, now=utcnow()
                )
                await session.commit()
                return issued.token

        return self.run(mint())


@pytest.fixture(scope="module")
def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedGateway]:
    with gateway_in_thread(Path(tmp_path_factory.mktemp("fuzz")), LOG_LEVEL="CRITICAL") as world:
        yield world


@contextmanager
def gateway_in_thread(workdir: Path, **overrides: Any) -> Iterator[ThreadedGateway]:
    """A gateway with every channel, on its own SQLite store, served from its own thread."""
    url = f"sqlite:///{workdir / 'store.db'}"
    migrate.upgrade(url)
    ready = threading.Event()
    found: dict[str, Any] = {}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with (
            running_rasa_standin() as rasa,
            running_twilio_standin() as twilio_api,
            running_telegram_standin() as telegram,
        ):
            settings = make_settings(
                url,
                rasa.url,
                **twilio_settings(twilio_api.url),
                TELEGRAM_BOT_TOKEN=telegram.token,
                TELEGRAM_SECRET_TOKEN=WEBHOOK_SECRET,
                TELEGRAM_API_BASE_URL=telegram.url,
                # Fuzzing repeats senders; the limiter has tests of its own.
                RATE_LIMIT_BURST=1_000_000,
                WEBCHAT_ADDRESS_BURST=1_000_000,
                **overrides,
            )
            async with running_gateway(settings) as gateway:
                found["gateway"] = gateway
                found["rasa"] = rasa
                found["twilio"] = twilio_api
                ready.set()
                await stop.wait()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        except BaseException as error:
            found["error"] = error
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="fuzz-gateway", daemon=True)
    thread.start()
    assert ready.wait(60), "the gateway did not start"
    if "error" in found:
        raise found["error"]
    try:
        yield ThreadedGateway(
            gateway=found["gateway"], loop=loop, rasa=found["rasa"], twilio=found["twilio"]
        )
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
