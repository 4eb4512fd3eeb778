"""The privacy notice: once to each customer, on their first message on each channel.

A conversation is one customer on one channel (a phone number on SMS and on WhatsApp makes two),
so "once per contact and channel" is once per conversation, remembered on it. It goes in the
commit of the first answered turn, ahead of the answer, so it is stored and sent in order like
any reply. An erased customer who writes again is told again.

The deployment's PRIVACY_NOTICE is the English notice; the other languages' come from the
system texts catalogue (locales/system_texts.yml), and an empty setting sends none in any.
"""

from __future__ import annotations

from datetime import datetime

from bot import system_texts
from bot.messages import Reply, SenderKind
from bot.store.models import Conversation
from bot.system_texts import TextKey


def privacy_notice(conversation: Conversation, *, text: str, now: datetime) -> list[Reply]:
    """The notice to send before this turn's answer, in the conversation's language (none
    once sent, or when the configured English `text` is empty)."""
    if not text or conversation.privacy_notice_sent_at is not None:
        return []
    conversation.privacy_notice_sent_at = now
    language = conversation.language
    said = system_texts.text(TextKey.PRIVACY_NOTICE, language, english=text)
    return [Reply(text=said, sender_kind=SenderKind.SYSTEM)]
