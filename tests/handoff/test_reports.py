"""Report figures on a known data set (tests/handoff/report_data.py), worked out by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest

from bot.messages import Channel
from bot.store.db import create_engine, create_session_factory
from bot.store.models import Role
from handoff.errors import Invalid
from handoff.reports.figures import compute_reports, report_range
from tests.handoff.conftest import Desk
from tests.handoff.report_data import END, START, Known, seed_known
from tests.handoff.test_console import sign_in

NOW = datetime.fromisoformat("2026-03-05T12:00:00+00:00")


@pytest.fixture
async def known(database_url: str) -> AsyncIterator[tuple[Known, object]]:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    yield await seed_known(sessions), sessions
    await engine.dispose()


async def _figures(
    known: tuple[Known, object], channel: Channel | None = None
) -> dict[str, object]:
    _, sessions = known
    async with sessions() as session:  # type: ignore[operator]
        r = report_range(START, END, channel, today=NOW.date())
        reports = await compute_reports(session, r, promise_hours=24, now=NOW)
    return reports.model_dump(mode="json")


async def test_figures_for_all_channels(known: tuple[Known, object]) -> None:
    f = await _figures(known)
    assert f["conversations_per_day"] == [
        {"day": "2026-03-01", "channel": "sms", "conversations": 1},
        {"day": "2026-03-01", "channel": "webchat", "conversations": 1},
        {"day": "2026-03-02", "channel": "webchat", "conversations": 1},
        {"day": "2026-03-02", "channel": "whatsapp", "conversations": 1},
        {"day": "2026-03-03", "channel": "telegram", "conversations": 1},
        {"day": "2026-03-03", "channel": "webchat", "conversations": 1},
    ]
    # C1-C5 wrote in the range; C2-C5 were handed off.
    assert f["containment"] == {"conversations": 5, "handed_off": 4, "contained": 1, "rate": 0.2}
    # C1 (contained) and C3 English, C2 Spanish, C4 Haitian Creole, C5 undecided; C6 (French)
    # is outside the range.
    assert f["by_language"] == [
        {"language": "en", "conversations": 2, "handed_off": 1, "contained": 1, "rate": 0.5},
        {"language": "es", "conversations": 1, "handed_off": 1, "contained": 0, "rate": 0.0},
        {"language": "ht", "conversations": 1, "handed_off": 1, "contained": 0, "rate": 0.0},
        {
            "language": "undecided",
            "conversations": 1,
            "handed_off": 1,
            "contained": 0,
            "rate": 0.0,
        },
    ]
    assert f["handoff_reasons"] == [
        {"label": "customer_request", "count": 2},
        {"label": "complaint", "count": 1},
        {"label": "payment_dispute", "count": 1},
    ]
    # Answered after 30 min, 5 h and 30 h; C4 never.
    assert f["first_response"] == {
        "target_hours": 24,
        "handoffs": 4,
        "answered": 3,
        "within_target": 2,
        "within_target_rate": 0.6667,
        "average_seconds": 42600.0,  # (1,800 + 18,000 + 108,000) / 3
        "buckets": [
            {"label": "within 1 h", "count": 1},
            {"label": "1-4 h", "count": 0},
            {"label": "4-24 h", "count": 1},
            {"label": "over 24 h", "count": 1},
            {"label": "unanswered", "count": 1},
        ],
    }
    # C2 in its 24 h; C3 late for its 4 h, C5 for its 24 h; C4 past its 1 h with no reply.
    assert f["windows"] == {"in_window": 1, "late": 2, "no_reply": 1, "waiting": 0, "rate": 0.25}
    # Every reply on the clock (report_data.py): first, next and resolution against targets.
    assert f["clocks"] == [
        {
            "clock": "first_response",
            "target": "1/4/24/24 business hours (urgent/high/normal/low)",
            "count": 4,
            "met": 1,
            "missed": 3,
            "open": 0,
            "closed": 0,
            "met_rate": 0.25,
            "average_business_seconds": 42600.0,
        },
        {
            "clock": "next_response",
            "target": "4 business hours",
            "count": 3,
            "met": 1,
            "missed": 1,
            "open": 0,
            "closed": 1,  # C5's: the resolution came first, unanswered
            "met_rate": 0.5,
            "average_business_seconds": 9000.0,  # (1,800 + 16,200) / 2
        },
        {
            "clock": "resolution",
            "target": "40 business hours",
            "count": 4,
            "met": 3,
            "missed": 1,
            "open": 0,
            "closed": 0,
            "met_rate": 0.75,
            "average_business_seconds": 42900.0,  # (2,100 + 18,300 + 108,300) / 3
        },
    ]
    # C5's rating came on 4 March, C6's in February: only C2 (ann, 5) and C3 (bob, 2) count.
    none = {str(s): 0 for s in range(1, 6)}
    assert f["ratings"] == [
        {
            "rep_id": None,
            "rep": "Everyone",
            "count": 2,
            "average": 3.5,
            "distribution": {**none, "2": 1, "5": 1},
        },
        {
            "rep_id": known[0].reps["ann"].id,
            "rep": "Ann",
            "count": 1,
            "average": 5.0,
            "distribution": {**none, "5": 1},
        },
        {
            "rep_id": known[0].reps["bob"].id,
            "rep": "Bob",
            "count": 1,
            "average": 2.0,
            "distribution": {**none, "2": 1},
        },
    ]
    assert f["faq"] == [
        {"intent": "get_refund", "helpful": 0, "not_helpful": 1},
        {"intent": "track_order", "helpful": 1, "not_helpful": 0},
    ]
    assert f["faq_total"] == {"intent": "all", "helpful": 1, "not_helpful": 1}
    # Open now: ann's (due 4 March, overdue on the 5th) and bob's (due 2099).
    ann, bob = known[0].reps["ann"].id, known[0].reps["bob"].id
    assert f["follow_ups"] == [
        {"owner_id": None, "owner": "Everyone", "open": 2, "overdue": 1},
        {"owner_id": ann, "owner": "Ann", "open": 1, "overdue": 1},
        {"owner_id": bob, "owner": "Bob", "open": 1, "overdue": 0},
    ]


async def test_figures_for_one_channel(known: tuple[Known, object]) -> None:
    f = await _figures(known, Channel.WEBCHAT)
    assert [(d["day"], d["conversations"]) for d in f["conversations_per_day"]] == [  # type: ignore[attr-defined, index]
        ("2026-03-01", 1),
        ("2026-03-02", 1),
        ("2026-03-03", 1),
    ]
    assert f["containment"] == {"conversations": 2, "handed_off": 1, "contained": 1, "rate": 0.5}
    assert [(x["language"], x["contained"], x["handed_off"]) for x in f["by_language"]] == [  # type: ignore[attr-defined, index]
        ("en", 1, 0),
        ("undecided", 0, 1),
    ]
    assert f["handoff_reasons"] == [{"label": "customer_request", "count": 1}]
    first = f["first_response"]
    assert (first["handoffs"], first["answered"], first["within_target"]) == (1, 1, 0)  # type: ignore[index]
    assert f["windows"] == {"in_window": 0, "late": 1, "no_reply": 0, "waiting": 0, "rate": 0.0}
    clocks = {c["clock"]: c for c in f["clocks"]}  # type: ignore[attr-defined]
    assert (clocks["first_response"]["missed"], clocks["first_response"]["met"]) == (1, 0)
    assert (clocks["next_response"]["closed"], clocks["next_response"]["met_rate"]) == (1, None)
    assert (clocks["resolution"]["met"], clocks["resolution"]["average_business_seconds"]) == (
        1,
        108300.0,
    )
    assert [r["count"] for r in f["ratings"]] == [0]  # type: ignore[attr-defined, index]
    assert f["faq_total"] == {"intent": "all", "helpful": 1, "not_helpful": 0}
    assert f["follow_ups"] == [{"owner_id": None, "owner": "Everyone", "open": 0, "overdue": 0}]


def test_ranges_default_to_30_days_and_refuse_nonsense() -> None:
    r = report_range(None, None, None, today=date(2026, 3, 30))
    assert (r.start, r.end) == (date(2026, 3, 1), date(2026, 3, 30))
    with pytest.raises(Invalid, match="after the end"):
        report_range(date(2026, 3, 2), date(2026, 3, 1), None, today=date(2026, 3, 30))
    with pytest.raises(Invalid, match="at most 366"):
        report_range(date(2025, 1, 1), date(2026, 3, 1), None, today=date(2026, 3, 30))


async def test_the_api_serves_the_same_figures_to_supervisors(desk: Desk) -> None:
    known = await seed_known(desk.services.session_factory)
    params = {"start": "2026-03-01", "end": "2026-03-03"}
    rep = await desk.http.get("/api/reports", params=params, headers=await desk.auth("ann"))
    assert rep.status_code == 403
    response = await desk.http.get("/api/reports", params=params, headers=await desk.auth("sue"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["containment"] == {"conversations": 5, "handed_off": 4, "contained": 1, "rate": 0.2}
    assert body["windows"]["rate"] == 0.25 and body["ratings"][0]["average"] == 3.5
    assert body["follow_ups"][0] == {"owner_id": None, "owner": "Everyone", "open": 2, "overdue": 1}
    webchat = await desk.http.get(
        "/api/reports", params={**params, "channel": "webchat"}, headers=await desk.auth("sue")
    )
    assert webchat.json()["containment"]["conversations"] == 2
    assert known.conversations["C1"] > 0


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-03-05", "end": "2026-03-01"},
        {"start": "not-a-date"},
        {"channel": "fax"},
    ],
)
async def test_the_api_refuses_bad_ranges_clearly(desk: Desk, params: dict[str, str]) -> None:
    await desk.rep("sue", Role.SUPERVISOR)
    response = await desk.http.get("/api/reports", params=params, headers=await desk.auth("sue"))
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_the_console_page_draws_every_chart_for_supervisors_only(desk: Desk) -> None:
    await seed_known(desk.services.session_factory)
    await _sign_in_as(desk, "ann")
    refused = await desk.http.get("/console/reports")
    assert refused.status_code == 403
    await _sign_in_as(desk, "sue")
    page = await desk.http.get(
        "/console/reports", params={"start": "2026-03-01", "end": "2026-03-03"}
    )
    assert page.status_code == 200, page.text
    html = page.text
    for chart in (
        "per-day",
        "assistant-resolution",
        "containment",
        "languages",
        "reasons",
        "first-response",
        "windows",
        "clocks",
        "ratings",
        "faq",
        "follow-ups",
        "logged",
    ):
        assert f'data-testid="chart-{chart}"' in html, chart
    assert html.count("<svg") == 12  # one per chart above
    assert "style=" not in html  # the CSP forbids inline styles
    assert "20% of 5 conversations needed no person." in html
    assert "ht (Haitian Creole)" in html and "2, 50% contained" in html
    assert "2 of 3 answered within 24 h (67%); average 11.8 h." in html


async def _sign_in_as(desk: Desk, username: str) -> None:
    desk.http.cookies.clear()
    assert (await sign_in(desk, username)).status_code == 303


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/reports", {"end": "9999-12-31"}),
        ("/api/reports", {"start": "0001-01-01", "end": "0001-01-05"}),
        ("/api/export", {"end": "9999-12-31"}),
        ("/api/export", {"start": "9999-12-31"}),
        ("/api/export", {"start": "1900-01-01", "end": "1900-01-02"}),
        ("/api/export", {"start": "2024-01-01", "end": "2025-06-30"}),  # over 366 days
    ],
)
async def test_dates_out_of_range_are_a_clear_422(
    desk: Desk, path: str, params: dict[str, str]
) -> None:
    await desk.rep("sue", Role.SUPERVISOR)
    response = await desk.http.get(path, params=params, headers=await desk.auth("sue"))
    assert response.status_code == 422, response.text
    assert "date" in response.text or "366 days" in response.text
