"""Who is speaking: a person's reply carries their name on channels that show no sender."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.messages import Channel, Reply, SenderKind
from bot.replies import signed
from tests.conftest import make_settings


def test_the_rep_reply_format_names_the_text_and_nothing_unknown() -> None:
    assert make_settings("sqlite:///x.db").REP_REPLY_FORMAT == "{name} (Caricom Connects): {text}"
    assert make_settings("sqlite:///x.db", REP_REPLY_FORMAT="").REP_REPLY_FORMAT == ""
    for wrong in ("{name} says hi", "{name}: {text} {phone}", "{text", "{0} {text}"):
        with pytest.raises(ValidationError, match="REP_REPLY_FORMAT"):
            make_settings("sqlite:///x.db", REP_REPLY_FORMAT=wrong)


def test_a_persons_reply_carries_their_name_where_the_channel_shows_no_sender() -> None:
    reply = Reply(
        text="Your {refund} landed.", sender_kind=SenderKind.REP, rep_id=1, rep_name="Ann"
    )
    form = "{name} (Caricom Connects): {text}"
    for channel in (Channel.SMS, Channel.WHATSAPP, Channel.TELEGRAM):
        assert signed(reply, channel, form).text == "Ann (Caricom Connects): Your {refund} landed."
    assert signed(reply, Channel.WEBCHAT, form) == reply  # the widget labels it itself
    assert signed(reply, Channel.SMS, "") == reply
    bot = Reply(text="Open My Orders.", sender_kind=SenderKind.BOT)
    assert signed(bot, Channel.SMS, form) == bot
