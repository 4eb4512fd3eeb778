import pytest
from pydantic import ValidationError

from bot.settings import Settings, async_database_url


def test_plain_database_urls_get_the_async_driver() -> None:
    assert async_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_database_url("sqlite:///var/x.db") == "sqlite+aiosqlite:///var/x.db"
    assert async_database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


def test_defaults_run_on_one_machine() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.is_sqlite
    assert settings.TWILIO_API_BASE_URL == "https://api.twilio.com"
    assert settings.RASA_URL == "http://localhost:5005"


def test_placeholder_secrets_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None, ENVIRONMENT="production", TWILIO_AUTH_TOKEN="changeme")  # type: ignore[call-arg]
