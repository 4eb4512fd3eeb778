"""SMS and WhatsApp text: splitting, numbered options, keywords, and reading Twilio's form."""

from __future__ import annotations

import pytest

from bot.buttons import chosen_option, numbered_options
from bot.messages import Attachment, Button, Channel
from channels.twilio.consent import Keyword, keyword_of, keyword_of_opt_out_type
from channels.twilio.inbound import MalformedMessage, media_kind, parse_message
from channels.twilio.outbound import template_variable
from channels.twilio.rest import parse_retry_after
from channels.twilio.sms_text import (
    MAX_BODY_CHARS,
    render_text,
    split_text,
)
from tests.support.twilio_standin import sms, whatsapp

YES_NO = (Button("Yes", "/affirm"), Button("No", "/deny"))


def test_short_text_is_one_part() -> None:
    assert split_text("Open My Orders to track it.") == ["Open My Orders to track it."]
    assert split_text("   ") == []


def test_long_text_is_cut_at_the_last_sentence_end_that_fits() -> None:
    sentence = "Your refund is on its way to the card you paid with. "  # 53 characters
    text = sentence * 40  # 2,120 characters
    parts = split_text(text)
    assert len(parts) == 2
    assert all(len(p) <= MAX_BODY_CHARS for p in parts)
    assert parts[0].endswith("paid with.") and parts[1].startswith("Your refund")
    assert " ".join(parts) == text.strip()


def test_a_line_break_is_a_boundary_too() -> None:
    first = "a" * 1000
    second = "b " * 400
    parts = split_text(f"{first}\n{second}")
    assert parts[0] == first


def test_without_sentence_ends_text_is_cut_between_words() -> None:
    text = "word " * 500  # 2,500 characters, no full stop
    parts = split_text(text)
    assert all(len(p) <= MAX_BODY_CHARS for p in parts)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)
    assert " ".join(parts).split() == text.split()


def test_a_sentence_end_early_in_the_window_is_not_used() -> None:
    # Cutting after "Hi." would send a three-character message; words are better.
    text = "Hi. " + "word " * 400
    parts = split_text(text)
    assert len(parts[0]) > MAX_BODY_CHARS // 2


def test_one_unbroken_run_is_cut_hard() -> None:
    parts = split_text("x" * 3500)
    assert [len(p) for p in parts] == [1600, 1600, 300]


def test_emoji_and_other_scripts_are_kept_whole() -> None:
    text = "🙏🏾 नमस्ते 你好. " * 200
    parts = split_text(text)
    assert all(len(p) <= MAX_BODY_CHARS for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_buttons_become_numbered_options_one_per_line() -> None:
    assert numbered_options(YES_NO) == "Reply 1 for Yes\nReply 2 for No"
    [body] = render_text("Is your question about tracking an order?", YES_NO)
    assert body == "Is your question about tracking an order?\n\nReply 1 for Yes\nReply 2 for No"


def test_options_that_do_not_fit_go_in_a_part_of_their_own() -> None:
    parts = render_text("a" * 1590, YES_NO)
    assert parts == ["a" * 1590, "Reply 1 for Yes\nReply 2 for No"]


@pytest.mark.parametrize(
    ("typed", "option"),
    [("1", 1), (" 2 ", 2), ("2.", 2), ("3)", 3), ("12", 12), ("0", None), ("1 please", None)],
)
def test_a_typed_number_is_an_option(typed: str, option: int | None) -> None:
    assert chosen_option(typed) == option


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", Keyword.STOP),
        ("stop", Keyword.STOP),
        (" Unsubscribe \n", Keyword.STOP),
        ("stopall", Keyword.STOP),
        ("cancel", Keyword.STOP),
        ("END", Keyword.STOP),
        ("quit", Keyword.STOP),
        ("start", Keyword.START),
        ("UNSTOP", Keyword.START),
        ("help", Keyword.HELP),
        ("Info", Keyword.HELP),
        ("please stop", None),
        ("cancel my order", None),
        ("yes", None),
        ("help me with my refund", None),
    ],
)
def test_keywords_are_whole_messages_in_any_case(text: str, keyword: Keyword | None) -> None:
    assert keyword_of(text) == keyword


def test_twilios_opt_out_type_names_the_keyword() -> None:
    assert keyword_of_opt_out_type("STOP") == Keyword.STOP
    assert keyword_of_opt_out_type("start") == Keyword.START
    assert keyword_of_opt_out_type("HELP") == Keyword.HELP
    assert keyword_of_opt_out_type("") is None and keyword_of_opt_out_type(None) is None
    assert keyword_of_opt_out_type("SOMETHING_NEW") is None


def test_an_sms_is_read_with_its_phone() -> None:
    message = parse_message(sms("+12465550123", " where is my order\x00 ", sid="SM1"))
    assert message.channel == Channel.SMS
    assert message.address == "+12465550123" and message.phone == "+12465550123"
    assert message.text == "where is my order" and message.external_id == "SM1"
    assert message.attachments == ()


def test_a_whatsapp_message_keeps_its_address_and_links_by_phone() -> None:
    message = parse_message(whatsapp("+12465550123", "hello", profile_name="Keisha B"))
    assert message.channel == Channel.WHATSAPP
    assert message.address == "whatsapp:+12465550123" and message.phone == "+12465550123"
    assert message.display_name == "Keisha B"


def test_a_short_code_sender_has_no_phone() -> None:
    assert parse_message(sms("72345", "hi")).phone is None


def test_media_are_attachments_with_their_kind() -> None:
    form = sms(
        "+12465550123",
        "",
        NumMedia="3",
        MediaUrl0="https://api.twilio.com/m/0",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/m/1",
        MediaContentType1="audio/ogg",
        MediaUrl2="https://api.twilio.com/m/2",
        MediaContentType2="application/pdf",
    )
    assert parse_message(form).attachments == (
        Attachment("image", "https://api.twilio.com/m/0", "image/jpeg"),
        Attachment("audio", "https://api.twilio.com/m/1", "audio/ogg"),
        Attachment("document", "https://api.twilio.com/m/2", "application/pdf"),
    )
    assert media_kind("video/mp4") == "video"
    assert media_kind("text/vcard") == "document"


def test_a_location_is_an_attachment_with_lat_lon() -> None:
    form = whatsapp("+12465550123", "", Latitude="13.0969", Longitude="-59.6145")
    assert parse_message(form).attachments == (
        Attachment("location", description="13.0969,-59.6145"),
    )


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"MessageSid": "", "SmsMessageSid": ""}, "MessageSid"),
        ({"From": ""}, "From"),
        ({"From": "whatsapp:"}, "no number"),
        ({"NumMedia": "two"}, "NumMedia"),
        ({"Latitude": "north", "Longitude": "1"}, "Latitude"),
        ({"Latitude": "95", "Longitude": "1"}, "range"),
    ],
)
def test_a_malformed_form_says_what_is_wrong(change: dict[str, str], complaint: str) -> None:
    with pytest.raises(MalformedMessage, match=complaint):
        parse_message({**sms("+12465550123", "hi"), **change})


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("99999") == 3600.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_a_template_variable_is_one_line_and_fits() -> None:
    assert template_variable("Hello\n\nthere\tfriend") == "Hello there friend"
    clipped = template_variable("word " * 400)
    assert len(clipped) <= 900 and clipped.endswith("…")
