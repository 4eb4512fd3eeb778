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


TELEGRAM_SECRET = "k" * 40
PRODUCTION = {
    "ENVIRONMENT": "production",
    "METRICS_TOKEN": "m3tr1cs-" + "a" * 30,
    "RASA_CHANNEL_TOKEN": "r4sa-" + "b" * 30,
    "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
}


def test_a_complete_production_configuration_is_accepted() -> None:
    Settings(_env_file=None, **PRODUCTION)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # Values of deploy/systemd/caricom.env.example, copied as they are.
        ("TWILIO_AUTH_TOKEN", "<auth token from the Twilio Console>"),
        ("TWILIO_ACCOUNT_SID", "<ACxxxxxxxx from the Twilio Console>"),
        ("TELEGRAM_BOT_TOKEN", "<token from @BotFather>"),
        ("METRICS_TOKEN", "<random string, e.g. python -c '…'>"),
        ("DATABASE_URL", "postgresql://caricom:<database password>@db.internal:5432/caricom"),
        ("RASA_CHANNEL_TOKEN", "changeme"),
        ("TELEGRAM_SECRET_TOKEN", "changeme" + "x" * 30),
    ],
)
def test_production_refuses_placeholders_and_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=f"{name} is a placeholder"):
        Settings(_env_file=None, **{**PRODUCTION, name: value})  # type: ignore[call-arg]


@pytest.mark.parametrize("secret", ["x", "short-but-valid_chars", "a" * 31, "has spaces " * 4])
def test_production_refuses_a_weak_telegram_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="TELEGRAM_SECRET_TOKEN"):
        Settings(_env_file=None, **{**PRODUCTION, "TELEGRAM_SECRET_TOKEN": secret})  # type: ignore[call-arg]


def test_production_refuses_an_open_metrics_endpoint_unless_meant() -> None:
    without = {k: v for k, v in PRODUCTION.items() if k != "METRICS_TOKEN"}
    with pytest.raises(ValidationError, match="METRICS_TOKEN"):
        Settings(_env_file=None, **without)  # type: ignore[call-arg]
    Settings(_env_file=None, **without, METRICS_PUBLIC=True)  # type: ignore[call-arg]


def test_production_refuses_an_unauthenticated_rasa_channel() -> None:
    without = {k: v for k, v in PRODUCTION.items() if k != "RASA_CHANNEL_TOKEN"}
    with pytest.raises(ValidationError, match="RASA_CHANNEL_TOKEN"):
        Settings(_env_file=None, **without)  # type: ignore[call-arg]


# Supervisor alerts and business hours ---------------------------------------------------------

ALERTS = {
    "ALERT_WEBHOOK_URL": "https://hooks.example.org/caricom/alerts",
    "ALERT_WEBHOOK_SECRET": "w3bh00k-" + "c" * 30,
    "SMTP_URL": "smtp://alerts:p%40ss@mail.example.org:587",
    "SMTP_STARTTLS": True,
    "ALERT_EMAIL_FROM": "alerts@caricom.example",
    "ALERT_EMAIL_TO": "sue@caricom.example, sam@caricom.example",
}


def test_alert_settings_are_accepted_in_production_and_list_the_recipients() -> None:
    settings = Settings(_env_file=None, **PRODUCTION, **ALERTS)  # type: ignore[call-arg]
    assert settings.alert_email_recipients == ["sue@caricom.example", "sam@caricom.example"]
    assert settings.BUSINESS_HOURS_FILE == "business_hours.yml"
    assert (settings.SLA_NEXT_RESPONSE_HOURS, settings.SLA_RESOLUTION_HOURS) == (4.0, 40.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ALERT_WEBHOOK_URL": "ftp://hooks.example.org/x"}, "ALERT_WEBHOOK_URL must be"),
        ({"ALERT_WEBHOOK_URL": "not a url"}, "ALERT_WEBHOOK_URL must be"),
        ({"ALERT_WEBHOOK_SECRET": None}, "set ALERT_WEBHOOK_SECRET"),
        ({"SMTP_URL": "mail.example.org:25"}, "SMTP_URL must look like"),
        ({"SMTP_URL": "http://mail.example.org"}, "SMTP_URL must look like"),
        ({"ALERT_EMAIL_TO": ""}, "set ALERT_EMAIL_FROM and ALERT_EMAIL_TO"),
        ({"ALERT_EMAIL_TO": "sue at caricom"}, "not an email address"),
    ],
)
def test_incomplete_or_malformed_alert_settings_are_refused_everywhere(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **{**ALERTS, **overrides})  # type: ignore[call-arg]


def test_production_refuses_a_short_or_placeholder_webhook_secret_and_plain_http() -> None:
    with pytest.raises(ValidationError, match="ALERT_WEBHOOK_SECRET must be 32 characters"):
        Settings(_env_file=None, **{**PRODUCTION, **ALERTS, "ALERT_WEBHOOK_SECRET": "s" * 31})  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="ALERT_WEBHOOK_SECRET is a placeholder"):
        Settings(
            _env_file=None,
            **{**PRODUCTION, **ALERTS, "ALERT_WEBHOOK_SECRET": "changeme" + "x" * 30},
        )  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="https"):
        Settings(
            _env_file=None,
            **{**PRODUCTION, **ALERTS, "ALERT_WEBHOOK_URL": "http://hooks.example.org/a"},
        )  # type: ignore[call-arg]
    # Outside production a local receiver over plain HTTP is fine.
    Settings(_env_file=None, **{**ALERTS, "ALERT_WEBHOOK_URL": "http://127.0.0.1:9000/a"})  # type: ignore[call-arg]
