"""`python -m gateway.cli user …`: the first admin, clear refusals, list, deactivate."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bot.settings import get_settings
from gateway.cli import app
from tests.conftest import make_settings

PASSWORD = "a long enough password"


def _cli(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "test"}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "user", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_the_first_admin_is_created_from_standard_input(sqlite_url: str) -> None:
    done = _cli(
        sqlite_url, "create", "Root", "--role", "admin", "--name", "Ada Admin",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Created admin root (Ada Admin)" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    listed = _cli(sqlite_url, "list")
    assert listed.returncode == 0
    assert listed.stdout.split() == ["root", "admin", "active", "Ada", "Admin"]


def test_a_weak_password_and_a_duplicate_are_refused_clearly(sqlite_url: str) -> None:
    weak = _cli(sqlite_url, "create", "ann", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1
    assert "at least 10 characters" in weak.stderr
    assert _cli(sqlite_url, "create", "ann", "--password-stdin", stdin=PASSWORD).returncode == 0
    again = _cli(sqlite_url, "create", "ANN", "--password-stdin", stdin=PASSWORD)
    assert again.returncode == 1
    assert "exists already" in again.stderr
    bad_name = _cli(sqlite_url, "create", "a b", "--password-stdin", stdin=PASSWORD)
    assert bad_name.returncode == 1 and "username" in bad_name.stderr


def test_deactivate(sqlite_url: str) -> None:
    assert _cli(sqlite_url, "create", "ann", "--password-stdin", stdin=PASSWORD).returncode == 0
    done = _cli(sqlite_url, "deactivate", "ann")
    assert done.returncode == 0 and "Deactivated ann" in done.stderr
    assert "deactivated" in _cli(sqlite_url, "list").stdout
    missing = _cli(sqlite_url, "deactivate", "nobody")
    assert missing.returncode == 1 and "no user named" in missing.stderr


@pytest.fixture
def settings_for(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    assert get_settings().DATABASE_URL == make_settings(sqlite_url).DATABASE_URL
    yield sqlite_url
    get_settings.cache_clear()


def test_the_password_is_asked_twice(settings_for: str) -> None:
    runner = CliRunner()
    mismatch_then_match = f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"
    result = runner.invoke(
        app, ["user", "create", "sue", "--role", "supervisor"], input=mismatch_then_match
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert PASSWORD not in result.output
    assert "sue" in _cli(settings_for, "list").stdout
