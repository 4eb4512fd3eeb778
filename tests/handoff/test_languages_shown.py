"""The conversation's language where reps look: the rep API's queue and conversation, the
handoff packet, and the console's queue and conversation pages (a small tag, escaped)."""

from __future__ import annotations

import re

from bot.store.models import Conversation
from tests.handoff.conftest import Desk
from tests.handoff.test_console import sign_in


async def test_the_api_shows_the_conversations_and_each_messages_language(desk: Desk) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c-ht", customer_text="mwen vle pale ak yon moun", language="ht")
    undecided = await desk.queued("c-none", customer_text="12345")
    auth = await desk.auth("ann")

    queue = (await desk.http.get("/api/queue", headers=auth)).json()
    assert {item["id"]: item["language"] for item in queue} == {cid: "ht", undecided: None}

    detail = (await desk.http.get(f"/api/conversations/{cid}", headers=auth)).json()
    assert detail["summary"]["language"] == "ht"
    assert detail["packet"]["language"] == "ht"
    [customer] = detail["transcript"]
    assert (customer["sender_kind"], customer["language"]) == ("customer", "ht")


async def test_the_console_tags_the_queue_and_the_conversation_with_the_language(
    desk: Desk,
) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c-es", customer_text="quiero hablar con una persona", language="es")
    other = await desk.queued("c-pap", customer_text="mi ke papia ku un hende", language="pap")
    await desk.queued("c-none", customer_text="12345")
    await sign_in(desk, "ann")

    queue = (await desk.http.get("/console/queue")).text
    rows = dict(re.findall(r'data-conversation-id="(\d+)"(.*?)</tr>', queue, re.S))
    assert len(rows) == 3
    shown = {
        int(i): re.findall(r'data-language="(\w+)"[^>]*>(\w+)<', row) for i, row in rows.items()
    }
    assert shown[cid] == [("es", "ES")]
    assert shown[other] == [("pap", "PAP")]
    assert queue.count('data-testid="language"') == 2  # the undecided one has no tag
    # A language the assistant does not answer in stands out, and says what it is.
    assert re.search(r'class="language language-other"[^>]*data-language="pap"', queue)
    assert 'title="Papiamento"' in queue

    page = (await desk.http.get(f"/console/conversations/{cid}")).text
    heading = re.search(r"<h1>.*?</h1>", page, re.S)
    assert heading and 'data-language="es" title="Spanish">ES</span>' in heading.group(0)
    # The customer's message carries its own tag in the transcript.
    assert page.count('data-testid="language"') == 2


async def test_a_stored_language_is_escaped_in_the_console(desk: Desk) -> None:
    await desk.rep("ann")
    cid = await desk.queued("c-x", language="es")
    async with desk.services.session_factory() as session, session.begin():
        conversation = await session.get(Conversation, cid)
        assert conversation is not None
        conversation.language = '"><b>x'  # never stored by the gateway; escaped regardless
    await sign_in(desk, "ann")
    for path in ("/console/queue", f"/console/conversations/{cid}"):
        html = (await desk.http.get(path)).text
        assert '"><b>x' not in html and "<b>x" not in html
        assert "&#34;&gt;&lt;b&gt;x" in html or "&#34;&gt;&lt;B&gt;X" in html
