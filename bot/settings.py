"""One settings class for the gateway, read from environment variables and a `.env` file."""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TWILIO_API_DEFAULT = "https://api.twilio.com"
TELEGRAM_API_DEFAULT = "https://api.telegram.org"
DEFAULT_PRIVACY_NOTICE = (
    "Privacy: we keep this conversation to answer you and to improve our support. Please "
    "don't send card numbers or passwords here. You can ask us for a copy of your data, or "
    "to erase it, at any time."
)


def async_database_url(url: str) -> str:
    """Return `url` with the async driver this gateway uses (aiosqlite, asyncpg).

    Deployments write plain `postgresql://…` or `sqlite:///…` URLs; the driver is our concern.
    """
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


# Secrets production refuses when they look copied from an example.
_SECRETS = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_SECRET_TOKEN",
    "METRICS_TOKEN",
    "RASA_CHANNEL_TOKEN",
    "DATABASE_URL",
    "FILE_LINK_SECRET",
    "ALERT_WEBHOOK_SECRET",
    "SMTP_URL",
)
_PLACEHOLDER_WORDS = {"changeme", "change-me", "change_me", "secret", "test", "password", "xxx"}
# The alert webhook's signing key: long enough that a signature cannot be forged by guessing.
ALERT_SECRET_MIN_CHARS = 32
# What Telegram allows in a webhook secret; 32 characters or more so it cannot be guessed.
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")


def _looks_like_placeholder(value: str) -> bool:
    """Copied from .env.example or the systemd example rather than made for this deployment."""
    lowered = value.strip().lower()
    return (
        lowered in _PLACEHOLDER_WORDS
        or ("<" in value and ">" in value)
        or "xxxxxxxx" in lowered
        or "changeme" in lowered
    )


class Settings(BaseSettings):
    """Everything the gateway reads from its environment; defaults run on one machine."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    ENVIRONMENT: Literal["development", "test", "production"] = "development"
    LOG_LEVEL: str = "INFO"

    DATABASE_URL: str = "sqlite:///var/caricom.db"
    RASA_URL: str = "http://localhost:5005"
    RASA_TIMEOUT_SECONDS: float = Field(default=15.0, gt=0)
    # How long an instance may take over sending one reply before another may take it over:
    # longer than a vendor call can take (their clients give up after 15 s).
    DELIVERY_LEASE_SECONDS: float = Field(default=60.0, gt=0)
    # Set when several gateway instances run: web chat emits, presence and console updates
    # go through this Redis; keys and channels start with REDIS_PREFIX.
    REDIS_URL: str | None = None
    REDIS_PREFIX: str = "caricom"
    # How long an instance may route one customer message before another may take it over.
    TURN_LEASE_SECONDS: float = Field(default=60.0, gt=0)
    # How often stalled customer messages (an instance died mid-turn) are looked for.
    TURN_SWEEP_SECONDS: float = Field(default=10.0, gt=0)
    # Vendor channels' turns (SMS, WhatsApp, Telegram) run in `caricom worker` processes that
    # claim them from the store; the gateway then only stores and acknowledges, so a backlog of
    # turns never delays an acknowledgement. Web chat's customers wait on an open socket: their
    # turns stay in the gateway. Needs REDIS_URL (consoles follow workers' turns through it).
    TURNS_IN_WORKERS: bool = False
    # Turns one worker process runs at once (more wait in the store, visible in /metrics): the
    # assistant answers a few turns at a time, and more in flight only wait inside it.
    TURN_WORKER_CONCURRENCY: int = Field(default=4, ge=1)
    # How often a worker looks for new customer messages it was not told of (bot/turn_signal.py).
    TURN_WORKER_POLL_SECONDS: float = Field(default=1.0, gt=0)
    # Times a customer message may be taken for routing (a crash or an error each time) before
    # it is given up and the conversation handed to a person, so the messages after it move on.
    ROUTE_MAX_ATTEMPTS: int = Field(default=3, ge=1)
    PUBLIC_BASE_URL: str = "http://localhost:8000"

    TWILIO_ACCOUNT_SID: str = ""
    TWILIO_AUTH_TOKEN: str = ""
    TWILIO_API_BASE_URL: str = TWILIO_API_DEFAULT
    # Sender numbers: E.164 for SMS, "whatsapp:+1…" for the WhatsApp sender.
    TWILIO_SMS_FROM: str = ""
    TWILIO_WHATSAPP_FROM: str = ""
    # Approved WhatsApp template (ContentSid) for messages outside the 24-hour window.
    TWILIO_WHATSAPP_TEMPLATE_SID: str = ""
    TELEGRAM_BOT_TOKEN: str = ""
    TELEGRAM_SECRET_TOKEN: str = ""
    TELEGRAM_API_BASE_URL: str = TELEGRAM_API_DEFAULT

    # When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`. Production refuses
    # to start without one unless METRICS_PUBLIC says an open /metrics is meant.
    METRICS_TOKEN: str = ""
    METRICS_PUBLIC: bool = False
    # Addresses of the reverse proxies whose X-Forwarded-For / -Proto are believed (comma
    # separated addresses or networks, "*" for any): from anyone else they are ignored, so a
    # client cannot choose the address the login throttle and the logs see.
    FORWARDED_ALLOW_IPS: str = "127.0.0.1"
    # Shared with the Rasa server (connectors/gateway.py reads the same variable): when set, the
    # gateway's input channel on Rasa answers only requests carrying it as a bearer token.
    RASA_CHANNEL_TOKEN: str = ""

    # Customer input limits (web chat refuses longer messages with a clear error).
    MAX_MESSAGE_CHARS: int = Field(default=2000, gt=0)
    # Web chat sessions one socket may speak for (tabs share a socket's session, so one is the
    # usual case; a few more let a widget start over without reconnecting).
    WEBCHAT_MAX_SESSIONS_PER_SOCKET: int = Field(default=3, ge=1)
    # Web chat messages from one client address (every socket and session behind it): higher
    # than one sender's limit, since an office or a mobile carrier puts many people behind one.
    WEBCHAT_ADDRESS_PER_MINUTE: float = Field(default=120.0, gt=0)
    WEBCHAT_ADDRESS_BURST: int = Field(default=60, ge=1)
    # Per-sender rate limit on every channel (token bucket per channel and customer address):
    # a sustained rate in messages a minute, and how many may come at once.
    RATE_LIMIT_PER_MINUTE: float = Field(default=20.0, gt=0)
    RATE_LIMIT_BURST: int = Field(default=10, ge=1)
    # Largest request body the vendor webhooks and the rep API accept (bytes); larger: 413.
    MAX_WEBHOOK_BODY_BYTES: int = Field(default=64 * 1024, gt=0)
    MAX_API_BODY_BYTES: int = Field(default=1024 * 1024, gt=0)
    # Files customers send on web chat (and reps attach to replies): the largest accepted,
    # counted while it streams in; uploads per sender, a sustained rate a minute and a burst.
    MAX_UPLOAD_BYTES: int = Field(default=10 * 1024 * 1024, gt=0)
    UPLOAD_RATE_PER_MINUTE: float = Field(default=6.0, gt=0)
    UPLOAD_BURST: int = Field(default=5, ge=1)
    # Where files are kept: empty for the folder var/files, file:///path for another folder,
    # s3://bucket/prefix for an S3-compatible store (credentials from the usual AWS_*
    # variables; STORAGE_ENDPOINT_URL for a store that is not AWS).
    STORAGE_URL: str = ""
    STORAGE_ENDPOINT_URL: str = ""
    STORAGE_REGION: str = "us-east-1"
    # Signs the expiring links files are served through; the same on every instance. Empty
    # outside production: a random key per process (links then work only on the instance
    # that made them).
    FILE_LINK_SECRET: str = ""
    # How long a rep's link to a customer's file lives, and a link to a rep's file sent to a
    # customer (the vendor fetches it within minutes; a web chat customer may open it later).
    FILE_LINK_SECONDS: int = Field(default=300, gt=0)
    MEDIA_LINK_SECONDS: int = Field(default=7 * 24 * 3600, gt=0)
    # The company's promise to customers on every channel.
    RESPONSE_PROMISE_HOURS: int = Field(default=24, gt=0)
    # Internal response targets by priority (bot/policy.py), in hours.
    SLA_HOURS_URGENT: float = Field(default=1.0, gt=0)
    SLA_HOURS_HIGH: float = Field(default=4.0, gt=0)
    SLA_HOURS_NORMAL: float = Field(default=24.0, gt=0)
    SLA_HOURS_LOW: float = Field(default=24.0, gt=0)
    # Share of the window after which an unanswered handoff counts as at risk.
    SLA_AT_RISK_FRACTION: float = Field(default=0.75, gt=0, lt=1)
    SLA_MONITOR_INTERVAL_SECONDS: float = Field(default=30.0, gt=0)
    # Business-hour targets after the first response (README: Business hours, clocks and
    # alerts): a reply to each customer message written while a person owns the conversation,
    # and the resolution of the handoff, counted from its request. The SLA_HOURS_* targets
    # above count business hours too.
    SLA_NEXT_RESPONSE_HOURS: float = Field(default=4.0, gt=0)
    SLA_RESOLUTION_HOURS: float = Field(default=40.0, gt=0)
    # Each team's time zone, weekly hours and public holidays (YAML, edited by the support team);
    # empty: every hour counts (a team that never closes).
    BUSINESS_HOURS_FILE: str = "business_hours.yml"
    # Supervisor alerts (at risk, breached, overdue follow-up): a JSON POST signed with
    # HMAC-SHA256 of the body (X-Caricom-Signature: sha256=<hex>) and/or an email. Unset: the
    # console alone shows them.
    ALERT_WEBHOOK_URL: str | None = None
    ALERT_WEBHOOK_SECRET: str | None = None
    # smtp://user:password@host:port (port 25 by default) or smtps:// (TLS from the start,
    # port 465); SMTP_STARTTLS=true upgrades a smtp:// connection before logging in.
    SMTP_URL: str | None = None
    SMTP_STARTTLS: bool = False
    ALERT_EMAIL_FROM: str | None = None
    # Comma-separated supervisor addresses.
    ALERT_EMAIL_TO: str = ""
    ALERT_SEND_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # An episode the bot handles alone (an interaction record, bot/episodes.py) ends after this
    # long without a customer message; the monitor closes it.
    EPISODE_QUIET_HOURS: float = Field(default=24.0, gt=0)
    # "Resolved by the assistant" needs the customer not to ask about the same topic again
    # within this many hours (or to say the answer helped).
    CONTAINMENT_COME_BACK_HOURS: float = Field(default=24.0, gt=0)
    # Reports show the old containment figure (conversations without a handoff) next to the
    # episode-based one for one release; false shows only the new one.
    REPORTS_OLD_CONTAINMENT: bool = True
    # Conversations inactive this many days are purged (daily, by the monitor); none: kept.
    RETENTION_DAYS: int | None = Field(default=None, gt=0)
    # Sent once to each customer on their first message on each channel, before any answer;
    # empty: none is sent.
    PRIVACY_NOTICE: str = Field(default=DEFAULT_PRIVACY_NOTICE, max_length=1000)
    # Routing to people (handoff/routing.py, handoff/auto_assign.py). The routing table file;
    # empty: handoff/routing.yml.
    ROUTING_TABLE_PATH: str = ""
    # Most conversations a rep holds at once per channel kind, unless set for the rep.
    REP_MAX_CHAT: int = Field(default=3, ge=1)  # web chat: the customer waits on the page
    REP_MAX_MESSAGING: int = Field(default=8, ge=1)  # SMS, WhatsApp, Telegram
    # A rep whose console has been closed this long is set away; their unanswered
    # conversations go back to the queue once they have been away AWAY_GRACE_MINUTES.
    PRESENCE_AWAY_AFTER_MINUTES: float = Field(default=10.0, gt=0)
    AWAY_GRACE_MINUTES: float = Field(default=15.0, ge=0)
    # How often waiting conversations are offered again (they are also offered at once on
    # every queue change).
    AUTO_ASSIGN_INTERVAL_SECONDS: float = Field(default=5.0, gt=0)
    # How a person's reply reads on SMS, WhatsApp and Telegram, which show no sender of their
    # own: `{name}` is the rep's display name, `{text}` what they wrote. Empty: the text alone.
    REP_REPLY_FORMAT: str = Field(default="{name} (Caricom Connects): {text}", max_length=200)

    @field_validator("REP_REPLY_FORMAT")
    @classmethod
    def _names_and_text_only(cls, value: str) -> str:
        if not value:
            return value
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as error:
            raise ValueError(f"REP_REPLY_FORMAT is not a valid format: {error}") from error
        if "text" not in fields or not fields <= {"name", "text"}:
            raise ValueError(
                "REP_REPLY_FORMAT must contain {text} and may contain {name}, nothing else "
                '(e.g. "{name} (Caricom Connects): {text}")'
            )
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _use_async_driver(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("RASA_URL", "PUBLIC_BASE_URL", "TWILIO_API_BASE_URL", "TELEGRAM_API_BASE_URL")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("ALERT_WEBHOOK_URL")
    @classmethod
    def _webhook_url_is_http(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"https?://[^/\s:]+(:\d+)?(/\S*)?", value):
            raise ValueError("ALERT_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @field_validator("SMTP_URL")
    @classmethod
    def _smtp_url_is_smtp(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"smtps?://([^@/\s]+@)?[^@/\s:]+(:\d+)?/?", value):
            raise ValueError("SMTP_URL must look like smtp://user:password@host:port")
        return value

    @model_validator(mode="after")
    def _alerts_are_complete(self) -> Settings:
        if self.ALERT_WEBHOOK_URL and not self.ALERT_WEBHOOK_SECRET:
            raise ValueError("ALERT_WEBHOOK_URL is set: set ALERT_WEBHOOK_SECRET to sign alerts")
        if self.SMTP_URL and not (self.ALERT_EMAIL_FROM and self.alert_email_recipients):
            raise ValueError("SMTP_URL is set: set ALERT_EMAIL_FROM and ALERT_EMAIL_TO")
        for address in [self.ALERT_EMAIL_FROM or "", *self.alert_email_recipients]:
            if address and not re.fullmatch(r"[^@\s,]+@[^@\s,]+", address):
                raise ValueError(f"not an email address: {address!r}")
        return self

    @model_validator(mode="after")
    def _workers_share_redis(self) -> Settings:
        if self.TURNS_IN_WORKERS and not self.REDIS_URL:
            raise ValueError(
                "TURNS_IN_WORKERS is set: set REDIS_URL too (the consoles follow the turns "
                "workers run through Redis)"
            )
        return self

    @property
    def alert_email_recipients(self) -> list[str]:
        return [a.strip() for a in self.ALERT_EMAIL_TO.split(",") if a.strip()]

    @model_validator(mode="after")
    def _refuse_unsafe_production_values(self) -> Settings:
        if self.ENVIRONMENT != "production":
            return self
        webhook_secret = self.ALERT_WEBHOOK_SECRET
        if webhook_secret and len(webhook_secret) < ALERT_SECRET_MIN_CHARS:
            raise ValueError(
                f"ALERT_WEBHOOK_SECRET must be {ALERT_SECRET_MIN_CHARS} characters or more in "
                "production"
            )
        if self.ALERT_WEBHOOK_URL and not self.ALERT_WEBHOOK_URL.startswith("https://"):
            raise ValueError("ALERT_WEBHOOK_URL must use https:// in production")
        for name in _SECRETS:
            value: str = getattr(self, name)
            if value and _looks_like_placeholder(value):
                raise ValueError(f"{name} is a placeholder; set a real secret in production")
        secret = self.TELEGRAM_SECRET_TOKEN
        if secret and not _TELEGRAM_SECRET.fullmatch(secret):
            raise ValueError(
                "TELEGRAM_SECRET_TOKEN must be 32 to 256 letters, digits, _ or - in production "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if not self.METRICS_TOKEN and not self.METRICS_PUBLIC:
            raise ValueError(
                "METRICS_TOKEN is not set: set it, or METRICS_PUBLIC=true if /metrics is meant "
                "to be open (a private network)"
            )
        if not self.RASA_CHANNEL_TOKEN:
            raise ValueError(
                "RASA_CHANNEL_TOKEN is not set: the Rasa server would take turns from anyone"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()


def setting_default(name: str) -> Any:
    """The default of one setting, declared once above, for code built without `Settings`."""
    return Settings.model_fields[name].default
