"""The privacy notice: once to each customer, on their first message on each channel.

A conversation is one customer on one channel (a phone number on SMS and on WhatsApp makes two),
so "once per contact and channel" is once per conversation, remembered on it. It goes in the
commit of the first answered turn, ahead of the answer, so it is stored and sent in order like
any reply. An erased customer who writes again is told again.
"""

from __future__ import annotations

from datetime import datetime

from bot.messages import Reply, SenderKind
from bot.store.models import Conversation


def privacy_notice(conversation: Conversation, *, text: str, now: datetime) -> list[Reply]:
    """The notice to send before this turn's answer (none once sent, or when `text` is empty)."""
    if not text or conversation.privacy_notice_sent_at is not None:
        return []
    conversation.privacy_notice_sent_at = now
    return [Reply(text=text, sender_kind=SenderKind.SYSTEM)]
