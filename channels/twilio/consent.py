"""STOP, START and HELP: the messaging keywords carriers and WhatsApp expect a sender to honour.

A keyword is logged but never reaches the bot. STOP marks the contact opted out, and from then
on the senders refuse to send to them (checked at send time, so replies already queued stop
too); START and UNSTOP opt back in; HELP says how to reach support. The answers are in the
conversation's language (locales/system_texts.yml); the keywords themselves stay the English
ones carriers know.
"""

from __future__ import annotations

import enum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import system_texts
from bot.store.models import Contact, Conversation, utcnow
from bot.system_texts import TextKey


class Keyword(enum.Enum):
    STOP = "stop"
    START = "start"
    HELP = "help"


_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), Keyword.STOP),
    **dict.fromkeys(("START", "UNSTOP"), Keyword.START),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}


def keyword_of(text: str) -> Keyword | None:
    """The keyword a message is, when the whole message is one (any case); else None."""
    return _KEYWORDS.get(text.strip().upper())


def keyword_of_opt_out_type(opt_out_type: str | None) -> Keyword | None:
    """The keyword Twilio's Advanced Opt-Out matched (its `OptOutType` field), if any: it may
    be one of the account's own keywords, in any language."""
    try:
        return Keyword(opt_out_type.strip().lower()) if opt_out_type else None
    except ValueError:
        return None


def help_text(
    *, promise_hours: int, sms_number: str, whatsapp_number: str, language: str | None = None
) -> str:
    """How to reach support, on every channel, in `language`."""
    sms = (
        system_texts.text(TextKey.KEYWORD_HELP_SMS_NUMBER, language, number=sms_number)
        if sms_number
        else system_texts.text(TextKey.KEYWORD_HELP_SMS, language)
    )
    whatsapp = (
        system_texts.text(TextKey.KEYWORD_HELP_WHATSAPP_NUMBER, language, number=whatsapp_number)
        if whatsapp_number
        else system_texts.text(TextKey.KEYWORD_HELP_WHATSAPP, language)
    )
    return system_texts.text(
        TextKey.KEYWORD_HELP, language, sms=sms, whatsapp=whatsapp, hours=promise_hours
    )


def resubscribed_text(language: str | None = None) -> str:
    """The answer to START: subscribed again."""
    return system_texts.text(TextKey.KEYWORD_RESUBSCRIBED, language)


async def set_opted_out(
    session_factory: async_sessionmaker[AsyncSession], *, conversation_id: int, opted_out: bool
) -> None:
    """Opt the contact behind a conversation out (keeping the first time) or back in."""
    contact_id = (
        select(Conversation.contact_id).where(Conversation.id == conversation_id).scalar_subquery()
    )
    statement = update(Contact).where(Contact.id == contact_id)
    if opted_out:
        statement = statement.where(Contact.opted_out_at.is_(None)).values(opted_out_at=utcnow())
    else:
        statement = statement.values(opted_out_at=None)
    async with session_factory() as session, session.begin():
        await session.execute(statement)
