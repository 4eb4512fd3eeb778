"""The outbound half: replies as Telegram messages, sent through python-telegram-bot's `Bot`."""

from __future__ import annotations

import logging
import re
import warnings
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot import system_texts
from bot.files.store import FileStore
from bot.messages import Channel, Reply
from bot.sending import Failed, OutboundJob, Outcome, RetryLater, Sent
from bot.system_texts import TextKey
from bot.text import split_in_parts
from channels.telegram.buttons import callback_data
from channels.telegram.client import TelegramClient

logger = logging.getLogger(__name__)

# Telegram's limit on a message's text, counted in UTF-16 code units (as its entity offsets).
MAX_MESSAGE_UNITS = 4096
# Telegram's limit on a document's caption.
CAPTION_UNITS = 1024
_SENTENCE_END = re.compile(r"[.!?…](?=\s)")


class TelegramSender:
    """Renders replies into sendMessage bodies and sends them; never raises for Telegram faults."""

    channel = Channel.TELEGRAM

    def __init__(self, client: TelegramClient, *, files: FileStore | None = None) -> None:
        self._client = client
        self._files = files  # where reps' attachments are read from, to send as documents

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """One body per Telegram message: long texts split, the buttons on the last part."""
        parts = split_text(reply.text)
        if not parts:
            if not reply.buttons:
                return []
            # Telegram refuses a message without text, and buttons need one to hang on.
            parts = [system_texts.text(TextKey.TELEGRAM_CHOOSE, reply.language)]
        bodies: list[dict[str, Any]] = [{"text": part} for part in parts]
        attachment = reply.attachment
        if attachment is not None and attachment.file and self._files is not None:
            # Sent as a document, the text as its caption (Telegram's limit: 1024 characters).
            bodies[0]["document"] = {
                "file": attachment.file,
                "name": attachment.description or attachment.file.rsplit("/", 1)[1],
            }
        if reply.buttons:
            bodies[-1]["buttons"] = [
                {"text": b.title or b.payload, "callback_data": callback_data(b.payload)}
                for b in reply.buttons
            ]
        return bodies

    async def send(self, job: OutboundJob) -> Outcome:
        text = job.body.get("text")
        if not isinstance(text, str) or not text:
            return Failed(error="delivery body has no text")
        markup = _keyboard(job.body.get("buttons"))
        document = job.body.get("document")
        if isinstance(document, dict) and self._files is not None:
            return await self._send_document(job, document, text, markup)
        chat_id = job.address
        # A group that became a supergroup has a new id; Telegram says which, send there.
        for _ in range(2):
            try:
                message = await self._client.bot.send_message(
                    chat_id=chat_id, text=text, reply_markup=markup
                )
            except ChatMigrated as error:
                logger.info(
                    "telegram.chat_migrated chat_id=%s new_chat_id=%s",
                    chat_id,
                    error.new_chat_id,
                )
                chat_id = str(error.new_chat_id)
                continue
            except TelegramError as error:
                return self._outcome(job, error)
            return Sent(provider_message_id=f"{message.chat_id}:{message.message_id}")
        return Failed(error="the chat moved more than once")

    async def _send_document(
        self,
        job: OutboundJob,
        document: dict[str, Any],
        caption: str,
        markup: InlineKeyboardMarkup | None,
    ) -> Outcome:
        """A rep's file as a Telegram document, read from the file store and uploaded."""
        assert self._files is not None
        try:
            found = await self._files.get(str(document.get("file")))
        except Exception as error:
            return RetryLater(error=f"file store unavailable: {type(error).__name__}")
        if found is None:
            return Failed(error="the attached file is no longer kept")
        try:
            message = await self._client.bot.send_document(
                chat_id=job.address,
                document=InputFile(found.data, filename=str(document.get("name") or "file")),
                caption=caption[:CAPTION_UNITS],
                reply_markup=markup,
            )
        except TelegramError as error:
            return self._outcome(job, error)
        return Sent(provider_message_id=f"{message.chat_id}:{message.message_id}")

    def _outcome(self, job: OutboundJob, error: TelegramError) -> Outcome:
        described = f"{type(error).__name__}: {self._client.redact(error)}"
        # Order matters: BadRequest and TimedOut are kinds of NetworkError.
        if isinstance(error, RetryAfter):
            return RetryLater(error=described, retry_after=_retry_after_seconds(error))
        if isinstance(error, Forbidden | BadRequest):
            # Blocked by the user, kicked from the group, chat not found: never going to work.
            return Failed(error=described)
        if isinstance(error, InvalidToken):
            # Our configuration, not the customer's fault: keep the message until it is fixed.
            logger.error(
                "telegram.token_rejected delivery_id=%s: check TELEGRAM_BOT_TOKEN", job.delivery_id
            )
            return RetryLater(error=described)
        # NetworkError (5xx, connection refused, timeouts) and anything unforeseen: passing.
        return RetryLater(error=described)


def _keyboard(buttons: Any) -> InlineKeyboardMarkup | None:
    if not isinstance(buttons, list) or not buttons:
        return None
    # One button per row: titles are sentences ("Yes, connect me"), not single words.
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(str(b["text"]), callback_data=str(b["callback_data"]))]
         for b in buttons]
    )  # fmt: skip


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # The attribute is an int today and a timedelta in a future major version.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_UNITS) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, cut at paragraph, line, sentence or
    word boundaries (in that order of preference), and mid-word only when a word is too long."""
    return split_in_parts(text, limit, cut_point=_cut_point, size=_units)


def _cut_point(text: str, limit: int) -> int:
    """Where to end the next part of `text`: an index into it, at most `limit` units in."""
    fits = 0
    used = 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        fits += 1
    # A cut in the first half would make many small parts; prefer a worse boundary later on.
    floor = fits // 2
    for separator in ("\n\n", "\n"):
        found = text.rfind(separator, floor, fits)
        if found > 0:
            return found
    sentence_ends = [
        m.end() for m in _SENTENCE_END.finditer(text, floor, fits + 1) if m.end() <= fits
    ]
    if sentence_ends:
        return sentence_ends[-1]
    if text[fits].isspace():
        return fits
    for index in range(fits - 1, floor, -1):
        if text[index].isspace():
            return index
    return fits
