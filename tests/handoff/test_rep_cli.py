"""`python -m gateway.cli rep …` (and `user create --team/--language`): what a rep serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PASSWORD = "a long enough password"


def _cli(
    database_url: str, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "test", **env},
        timeout=60,
        check=False,
    )


def test_a_new_rep_serves_what_they_are_given_and_admins_change_it(sqlite_url: str) -> None:
    made = _cli(
        sqlite_url, "user", "create", "ann", "--team", "payments", "--language", "fr",
        "--language", "EN", "--password-stdin", stdin=PASSWORD,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (
        _cli(sqlite_url, "user", "create", "bob", "--password-stdin", stdin=PASSWORD).returncode
        == 0
    )
    shown = _cli(sqlite_url, "rep", "show")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "ann  away  teams: payments  languages: en, fr  limits: chat 3, messaging 8"
    assert lines[1] == "bob  away  teams: general  languages: en  limits: chat 3, messaging 8"

    assert _cli(sqlite_url, "rep", "teams", "bob", "accounts", "technical").returncode == 0
    assert _cli(sqlite_url, "rep", "languages", "bob", "ht", "nl").returncode == 0
    assert _cli(sqlite_url, "rep", "limits", "bob", "--chat", "1").returncode == 0
    done = _cli(sqlite_url, "rep", "presence", "bob", "busy")
    assert done.stdout.strip() == (
        "bob  busy  teams: accounts, technical  languages: ht, nl  limits: chat 1, messaging 8"
    )


def test_mistakes_are_refused_clearly(sqlite_url: str, tmp_path: Path) -> None:
    assert (
        _cli(sqlite_url, "user", "create", "ann", "--password-stdin", stdin=PASSWORD).returncode
        == 0
    )
    team = _cli(sqlite_url, "rep", "teams", "ann", "sales")
    assert team.returncode == 1 and "There is no team 'sales'" in team.stderr
    language = _cli(sqlite_url, "rep", "languages", "ann", "french")
    assert language.returncode == 1 and "not a language code" in language.stderr
    limit = _cli(sqlite_url, "rep", "limits", "ann", "--chat", "500")
    assert limit.returncode == 1 and "between 1 and 100" in limit.stderr
    nobody = _cli(sqlite_url, "rep", "show", "zed")
    assert nobody.returncode == 1 and "There is no user named 'zed'" in nobody.stderr
    broken = tmp_path / "routing.yml"
    broken.write_text("teams: {}\n", encoding="utf-8")
    table = _cli(sqlite_url, "rep", "teams", "ann", "general", ROUTING_TABLE_PATH=str(broken))
    assert table.returncode == 1 and "teams: list at least one team" in table.stderr
