"""A gateway with the human queue, driven through its rep API and console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from bot.store.models import Rep, Role
from gateway.app import create_app
from tests.browser.conftest import browser  # noqa: F401 (the browser fixture, for browser tests here)
from tests.conftest import make_settings
from tests.handoff.factories import PASSWORD, make_queued, make_rep
from tests.support.gateway import LiveGateway, running_gateway
from tests.support.rasa_standin import RasaStandIn, running_rasa_standin


@dataclass
class Desk:
    """The gateway, an HTTP client for it, and shortcuts to make reps and queued conversations."""

    gateway: LiveGateway
    rasa: RasaStandIn
    http: httpx.AsyncClient

    @property
    def services(self) -> Any:
        return self.gateway.services

    async def rep(self, username: str, role: Role = Role.REP, **kwargs: Any) -> Rep:
        """A person (kwargs: teams, languages, presence, limits: `factories.make_rep`)."""
        async with self.services.session_factory() as session:
            return await make_rep(session, username, role, **kwargs)

    async def queued(self, address: str, **kwargs: Any) -> int:
        async with self.services.session_factory() as session:
            return (await make_queued(session, address=address, **kwargs)).id

    async def token(self, username: str, password: str = PASSWORD) -> str:
        response = await self.http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(username)}"}

    async def get(self, model: type, ident: int) -> Any:
        async with self.services.session_factory() as session:
            return await session.get(model, ident)

    async def all(self, model: type, **where: Any) -> list[Any]:
        async with self.services.session_factory() as session:
            query = select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
            return list(await session.scalars(query))


async def app_routes(database_url: str) -> set[tuple[str, str]]:
    """Every (method, path) the gateway serves, read from the app itself."""
    app = create_app(make_settings(database_url))
    services = app.other_asgi_app.state.services
    try:
        return {
            (method, str(route.path))
            for route in iter_route_contexts(app.other_asgi_app.routes)
            for method in (getattr(route, "methods", None) or ())
            if method != "HEAD"
        }
    finally:
        services.desk.close()
        await services.engine.dispose()


@asynccontextmanager
async def running_desk(database_url: str, **settings: Any) -> AsyncIterator[Desk]:
    async with (
        running_rasa_standin() as rasa,
        running_gateway(make_settings(database_url, rasa.url, **settings)) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
    ):
        yield Desk(gateway, rasa, http)


@pytest.fixture
async def desk(sqlite_url: str) -> AsyncIterator[Desk]:
    """On SQLite (most tests: the HTTP surface does not depend on the engine)."""
    async with running_desk(sqlite_url) as desk:
        yield desk


@pytest.fixture
async def desk_on_each_store(database_url: str) -> AsyncIterator[Desk]:
    """On SQLite and on PostgreSQL."""
    async with running_desk(database_url) as desk:
        yield desk
