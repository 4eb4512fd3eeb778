"""The reports page's charts, drawn from the figures (pictures where they read faster)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from bot.languages import language_name
from bot.messages import Channel
from handoff.reports.charts import Part, Row, bars, columns, share
from handoff.reports.figures import UNDECIDED, Reports


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    svg: Markup
    legend: tuple[tuple[str, str], ...] = ()  # (label, css class)
    caption: str = ""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def charts(r: Reports) -> list[Chart]:
    out = [_per_day(r)]
    out.append(_assistant_resolution(r))
    if r.containment is not None:
        out.append(_old_containment(r))
    out.append(_by_language(r))
    out.append(
        Chart(
            "reasons",
            "Why conversations went to a person",
            bars(
                [
                    Row(
                        x.label.replace("_", " "),
                        [Part("handoffs", x.count, "s-person")],
                        str(x.count),
                    )
                    for x in r.handoff_reasons
                ],
                title="Handoffs by reason",
                testid="chart-reasons",
            ),
        )
    )
    f = r.first_response
    target_labels = {b.label for b in f.buckets[:-2]}
    out.append(
        Chart(
            "first-response",
            f"First response against the {f.target_hours}-hour promise",
            bars(
                [
                    Row(
                        b.label,
                        [
                            Part(
                                "handoffs",
                                b.count,
                                "s-good" if b.label in target_labels else "s-bad",
                            )
                        ],
                        str(b.count),
                    )
                    for b in f.buckets
                ],
                title=f"First response times of {f.handoffs} handoffs",
                testid="chart-first-response",
            ),
            (("within the promise", "s-good"), ("late or unanswered", "s-bad")),
            f"{f.within_target} of {f.answered} answered within {f.target_hours} h "
            f"({_pct(f.within_target_rate)}); average {_duration(f.average_seconds)}.",
        )
    )
    w = r.windows
    parts = [
        Part("answered in window", w.in_window, "s-good"),
        Part("answered late", w.late, "s-warn"),
        Part("no reply in window", w.no_reply, "s-bad"),
        Part("still waiting", w.waiting, "s-muted"),
    ]
    out.append(
        Chart(
            "windows",
            "Handoffs answered within their window",
            share(parts, title=f"{_pct(w.rate)} answered in their window", testid="chart-windows"),
            tuple((p.label, p.css) for p in parts),
            f"{_pct(w.rate)} of settled handoffs were answered within their priority's window.",
        )
    )
    out.append(_clocks(r))
    out.append(_ratings(r))
    out.append(_faq(r))
    out.append(_follow_ups(r))
    if r.logged:
        out.append(_logged(r))
    return out


def _logged(r: Reports) -> Chart:
    rows = [
        Row(
            "phone calls" if x.channel == "phone" else "emails",
            [
                Part("from the customer", x.inbound, "s-person"),
                Part("to the customer", x.outbound, "s-good"),
            ],
            f"{x.inbound} in, {x.outbound} out",
        )
        for x in r.logged
    ]
    total = sum(x.inbound + x.outbound for x in r.logged)
    return Chart(
        "logged",
        "Phone calls and emails logged by reps",
        bars(rows, title=f"{total} logged calls and emails", testid="chart-logged"),
        (("from the customer", "s-person"), ("to the customer", "s-good")),
        f"{total} calls and emails logged from {r.start} to {r.end}.",
    )


def _per_day(r: Reports) -> Chart:
    days = [r.start.fromordinal(n) for n in range(r.start.toordinal(), r.end.toordinal() + 1)]
    counts = {(d.day, d.channel): d.conversations for d in r.conversations_per_day}
    channels = [ch for ch in Channel if r.channel in (None, str(ch))]
    series = [
        (str(ch), f"s-{ch}", [float(counts.get((day, str(ch)), 0)) for day in days])
        for ch in channels
    ]
    total = sum(d.conversations for d in r.conversations_per_day)
    return Chart(
        "per-day",
        "Conversations per day, by channel",
        columns(
            [d.strftime("%d %b") for d in days],
            series,
            title=f"{total} conversation-days from {r.start} to {r.end}",
            testid="chart-per-day",
            every=max(1, len(days) // 10),
        ),
        tuple((str(ch), f"s-{ch}") for ch in channels),
    )


def _by_language(r: Reports) -> Chart:
    rows = [
        Row(
            x.language
            if x.language == UNDECIDED
            else f"{x.language} ({language_name(x.language)})",
            [
                Part("resolved by the assistant", x.contained, "s-good"),
                Part("handed to a person", x.handed_off, "s-person"),
            ],
            f"{x.conversations}, {_pct(x.rate)} contained",
        )
        for x in r.by_language
    ]
    return Chart(
        "languages",
        "Conversations and containment by language",
        bars(rows, title="Conversations by language", testid="chart-languages"),
        (("resolved by the assistant", "s-good"), ("handed to a person", "s-person")),
        "Each conversation in its language as it stands; languages the assistant does not "
        "answer in always go to a person.",
    )


def _ratings(r: Reports) -> Chart:
    rows = []
    for x in r.ratings:
        parts = [Part(f"rated {s}", x.distribution.get(s, 0), f"s-score{s}") for s in range(1, 6)]
        average = f"{x.average:.2f}" if x.average is not None else "—"
        rows.append(Row(x.rep, parts, f"avg {average} ({x.count})"))
    return Chart(
        "ratings",
        "Ratings after a person helped (1-5)",
        bars(rows, title="Ratings per rep and overall", testid="chart-ratings"),
        tuple((str(s), f"s-score{s}") for s in range(1, 6)),
    )


def _faq(r: Reports) -> Chart:
    rows = [
        Row(
            x.intent.replace("_", " "),
            [Part("helped", x.helpful, "s-good"), Part("did not help", x.not_helpful, "s-bad")],
            f"{x.helpful} / {x.not_helpful}",
        )
        for x in [r.faq_total, *r.faq]
    ]
    return Chart(
        "faq",
        "Did the assistant's answer help?",
        bars(rows, title="FAQ feedback, yes and no", testid="chart-faq"),
        (("yes", "s-good"), ("no", "s-bad")),
    )


def _follow_ups(r: Reports) -> Chart:
    rows = [
        Row(
            x.owner,
            [Part("on time", x.open - x.overdue, "s-good"), Part("overdue", x.overdue, "s-bad")],
            f"{x.open} open, {x.overdue} overdue",
        )
        for x in r.follow_ups
    ]
    return Chart(
        "follow-ups",
        "Open follow-ups",
        bars(rows, title="Open follow-ups by owner", testid="chart-follow-ups"),
        (("on time", "s-good"), ("overdue", "s-bad")),
    )


_CLOCK_NAMES = {
    "first_response": "first response",
    "next_response": "next responses",
    "resolution": "resolution",
}


def _clocks(r: Reports) -> Chart:
    rows = [
        Row(
            _CLOCK_NAMES.get(c.clock, c.clock),
            [
                Part("met", c.met, "s-good"),
                Part("missed", c.missed, "s-bad"),
                Part("not yet due", c.open, "s-muted"),
            ],
            f"{_pct(c.met_rate)} met, avg {_duration(c.average_business_seconds)}",
        )
        for c in r.clocks
    ]
    targets = "; ".join(f"{_CLOCK_NAMES.get(c.clock, c.clock)} {c.target}" for c in r.clocks)
    return Chart(
        "clocks",
        "Every reply on the clock, in business hours",
        bars(rows, title="First, next and resolution against their targets", testid="chart-clocks"),
        (("met", "s-good"), ("missed", "s-bad"), ("not yet due", "s-muted")),
        f"Targets: {targets}.",
    )


def _assistant_resolution(r: Reports) -> Chart:
    a = r.assistant_resolution
    window = f"{a.come_back_hours:g} h"
    parts = [
        Part("said it helped", a.helped, "s-good"),
        Part(f"did not come back within {window}", a.did_not_come_back, "s-good"),
        Part("left after a fallback", a.abandoned_after_fallback, "s-bad"),
        Part(f"came back on the same topic within {window}", a.came_back_same_topic, "s-bad"),
        Part("said it did not help", a.said_not_helped, "s-bad"),
        Part("handed to a person", a.handed_off, "s-person"),
    ]
    return Chart(
        "assistant-resolution",
        "Resolved by the assistant (per episode)",
        share(
            parts,
            title=f"Resolved by the assistant {_pct(a.rate)} of episodes",
            testid="chart-assistant-resolution",
        ),
        tuple((p.label, p.css) for p in parts),
        f"{_pct(a.rate)} of {a.resolved + a.unresolved + a.handed_off} settled episodes were "
        f"resolved by the assistant: {a.helped} said it helped, {a.did_not_come_back} did not "
        f"come back on the topic within {window}. Unresolved: {a.abandoned_after_fallback} left "
        f"after a fallback, {a.came_back_same_topic} came back on the same topic, "
        f"{a.said_not_helped} said it did not help. Not counted: {a.open} still open or "
        f"within the {window}, {a.no_inquiry} with small talk only.",
    )


def _old_containment(r: Reports) -> Chart:
    c = r.containment
    assert c is not None
    return Chart(
        "containment",
        "Containment, old figure: conversations without a handoff",
        share(
            [
                Part("no handoff", c.contained, "s-good"),
                Part("handed to a person", c.handed_off, "s-person"),
            ],
            title=f"Containment {_pct(c.rate)} of {c.conversations} conversations",
            testid="chart-containment",
        ),
        (("no handoff", "s-good"), ("handed to a person", "s-person")),
        f"{_pct(c.rate)} of {c.conversations} conversations needed no person. This old figure "
        "counts a customer who left unanswered or came back as resolved; it is shown for this "
        "release only (REPORTS_OLD_CONTAINMENT), next to the per-episode figure above.",
    )
