"""Shared fixtures: a migrated store (SQLite, or PostgreSQL), the real Rasa stack, settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.rasa_stack import RasaStack
from bot.settings import Settings
from bot.store import migrate

# Runs in the Rasa environment (see tests/assistant/test_actions.py), not under pytest.
collect_ignore = ["rasa_env"]

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def make_settings(
    database_url: str, rasa_url: str = "http://127.0.0.1:9", **overrides: Any
) -> Settings:
    """Settings for a test: nothing read from the developer's environment or .env file."""
    values: dict[str, Any] = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "RASA_URL": rasa_url,
        "RASA_TIMEOUT_SECONDS": 5.0,
        "LOG_LEVEL": "WARNING",
        # Tests count the replies they get: the privacy notice only where a test asks for it.
        "PRIVACY_NOTICE": "",
        # Clocks that do not depend on the hour a test runs at: business hours where asked.
        "BUSINESS_HOURS_FILE": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    migrate.upgrade(url)
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The store on each engine the product supports."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    """The real Rasa server and action server with the trained model, once per test session."""
    stack = RasaStack(workdir=tmp_path_factory.mktemp("rasa")).start()
    yield stack
    stack.stop()
