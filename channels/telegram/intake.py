"""Handling one Telegram update: the one path both the webhook and polling mode take.

An update is stored once (its update_id is the message's external id, unique per channel), and
only then acknowledged; the bot turn runs from the store afterwards. What could not be stored
raises, so the webhook answers 503 (Telegram redelivers) and polling does not move past it.

A chat over its rate limit is still stored, but neither routed nor answered (`rate_limited`).
The limit is asked only of an update stored just now, so a redelivery (of a duplicate, or of
one that got a 503) costs the chat nothing. Edits are only logged, so they never count.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from telegram import CallbackQuery, MaybeInaccessibleMessage, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.inbox import Inbox, Taken
from bot.messages import Channel, InboundMessage, Reply, SenderKind
from bot.text import clean_customer_text
from channels.telegram.buttons import RECENT_MESSAGES, is_payload_key, resolve_payload_key
from channels.telegram.client import TelegramClient
from channels.telegram.inbound import (
    attachments_in,
    command_in,
    display_name,
    is_addressed_to,
    is_group,
    message_text,
    update_kind,
    without_mention,
)

logger = logging.getLogger(__name__)

# Telegram clients show a Start button that sends /start; /help is the other command every
# bot is expected to know. Both get the greeting; neither means anything to the assistant.
GREETING_COMMANDS = frozenset({"start", "help"})
EXPIRED_BUTTON_TEXT = "That button is no longer available. Please type your question instead."


def greeting_text(promise_hours: int) -> str:
    """What /start and /help answer: what the assistant does and the response promise."""
    return (
        "Hi, I'm the Caricom Connects assistant. I can help with your account, orders and "
        "delivery, and payments and refunds: just type your question. If you'd like a person, "
        f'type "agent" and a representative will reply here within {promise_hours} hours.'
    )


class UpdateOutcome(enum.StrEnum):
    ACCEPTED = "accepted"  # stored; the bot turn runs in the background
    RECORDED = "recorded"  # stored for the log only (an edit, /start)
    DUPLICATE = "duplicate"  # this update_id was stored before
    RATE_LIMITED = "rate_limited"  # stored, but the chat is over its limit: not answered
    IGNORED = "ignored"  # nothing for the assistant (group chatter, unused update types)


class TelegramIntake:
    """Turns updates into stored customer messages, once each."""

    def __init__(self, *, client: TelegramClient, inbox: Inbox, promise_hours: int) -> None:
        self._client = client
        self._inbox = inbox
        self._greeting = Reply(text=greeting_text(promise_hours), sender_kind=SenderKind.SYSTEM)

    async def handle(self, update: Update) -> UpdateOutcome:
        """Store `update` once and start its processing; raise when it could not be stored."""
        if update.callback_query is not None:
            outcome = await self._button_chosen(update, update.callback_query)
        elif update.message is not None:
            outcome = await self._message(update, update.message, edited=False)
        elif update.edited_message is not None:
            # Only logged, never answered: nothing for the limit to protect.
            outcome = await self._message(update, update.edited_message, edited=True)
        else:
            outcome = UpdateOutcome.IGNORED
        logger.info(
            "telegram.update update_id=%s kind=%s outcome=%s",
            update.update_id,
            update_kind(update),
            outcome,
        )
        return outcome

    async def _message(self, update: Update, message: Message, *, edited: bool) -> UpdateOutcome:
        text = message_text(message)
        if is_group(message):
            # Groups: only what is addressed to the bot (a mention, a reply to it, a command
            # naming it). Other people's conversation is not ours to answer or to log.
            me = await self._client.me()
            if not is_addressed_to(message, me):
                return UpdateOutcome.IGNORED
            text = without_mention(text, me)
        elif message.chat.type != ChatType.PRIVATE:
            return UpdateOutcome.IGNORED
        text = clean_customer_text(text)
        attachments = attachments_in(message)
        if not text and not attachments:
            return UpdateOutcome.IGNORED  # service messages, polls, dice: nothing to answer
        inbound = InboundMessage(
            channel=Channel.TELEGRAM,
            address=str(message.chat.id),
            text=text,
            external_id=str(update.update_id),
            display_name=display_name(message),
            attachments=attachments,
            metadata=_metadata(message, edited=edited),
            language_hint=message.from_user.language_code if message.from_user else None,
        )
        if edited:
            # Logged so the record shows what the customer changed; the answer already went.
            stored = await self._inbox.record(inbound)
            return UpdateOutcome.RECORDED if stored is not None else UpdateOutcome.DUPLICATE
        command = command_in(text)
        if command is not None and command.name in GREETING_COMMANDS:
            # The greeting is a reply: it counts against the limit.
            stored = await self._inbox.record(inbound, limited=True)
            if stored is None:
                return UpdateOutcome.DUPLICATE
            if stored.rate_limited:
                return self._rate_limited(inbound)
            # Sent after Telegram is answered, so a slow Bot API never holds the webhook.
            self._inbox.reply_later(
                stored.conversation_id,
                self._greeting,
                name=f"telegram-greeting-{stored.conversation_id}",
            )
            return UpdateOutcome.RECORDED
        return self._taken(inbound, await self._inbox.take(inbound))

    async def _button_chosen(self, update: Update, query: CallbackQuery) -> UpdateOutcome:
        message = query.message
        if message is None or query.data is None:
            self._answer(query)  # not one of our keyboards (inline mode, games): stop the spinner
            return UpdateOutcome.IGNORED
        address = str(message.chat.id)
        title, payload = await self._chosen(query.data, message, address)
        if title is None:
            self._answer(query, text=EXPIRED_BUTTON_TEXT)
            return UpdateOutcome.IGNORED
        inbound = InboundMessage(
            channel=Channel.TELEGRAM,
            address=address,
            text=title,
            external_id=str(update.update_id),
            display_name=message.chat.title or query.from_user.full_name,
            button_payload=payload,
            metadata={"callback_query": True, "from_id": query.from_user.id},
            language_hint=query.from_user.language_code,
        )
        outcome = self._taken(inbound, await self._inbox.take(inbound))
        if outcome == UpdateOutcome.ACCEPTED:
            self._answer(query)  # rate-limited: no call out, not even to stop the spinner
        return outcome

    def _taken(self, inbound: InboundMessage, taken: Taken) -> UpdateOutcome:
        if taken == Taken.DUPLICATE:
            return UpdateOutcome.DUPLICATE
        if taken == Taken.RATE_LIMITED:
            return self._rate_limited(inbound)
        return UpdateOutcome.ACCEPTED

    def _rate_limited(self, inbound: InboundMessage) -> UpdateOutcome:
        """The update is stored, but its chat is over the limit: no turn, nothing sent."""
        logger.warning("rate_limited channel=%s update_id=%s", inbound.channel, inbound.external_id)
        return UpdateOutcome.RATE_LIMITED

    async def _chosen(
        self, data: str, message: MaybeInaccessibleMessage, address: str
    ) -> tuple[str | None, str | None]:
        """The chosen button's title and payload (None for what cannot be found)."""
        if is_payload_key(data):
            recent = await self._inbox.recent_buttons(Channel.TELEGRAM, address, RECENT_MESSAGES)
            found = resolve_payload_key(recent, data)
            if found is not None:
                return found.title, found.payload
            # Long gone from the log's recent messages: the title still says what was meant.
            return _title_on_keyboard(message, data), None
        return _title_on_keyboard(message, data) or data, data

    def _answer(self, query: CallbackQuery, *, text: str | None = None) -> None:
        self._inbox.spawn(self._answer_callback(query.id, text), name=f"telegram-answer-{query.id}")

    async def _answer_callback(self, query_id: str, text: str | None) -> None:
        try:
            await self._client.bot.answer_callback_query(query_id, text=text)
        except TelegramError as error:
            # The spinner stops on its own after a while; the choice itself is stored.
            logger.info("telegram.callback_answer_failed error=%s", self._client.redact(error))


def _title_on_keyboard(message: MaybeInaccessibleMessage, data: str) -> str | None:
    if not isinstance(message, Message) or message.reply_markup is None:
        return None  # an inaccessible (old) message carries no keyboard
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def _metadata(message: Message, *, edited: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {"message_id": message.message_id}
    if edited:
        metadata["edited"] = True
    if is_group(message) and message.from_user is not None:
        # A group is one conversation; who in it wrote is kept per message.
        metadata["from_id"] = message.from_user.id
        metadata["from_name"] = message.from_user.full_name
    return metadata
