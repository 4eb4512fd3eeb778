"""The inbound half's parsing: Telegram updates and messages into the project's own types."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Bot, Message, MessageEntity, Sticker, Update, User
from telegram.constants import ChatType

from bot.messages import Attachment
from channels.telegram.client import ALLOWED_UPDATES

# Attachments keep Telegram's file_id (valid for this bot only): `telegram-file:<file_id>`.
# A person who needs the file asks getFile with it; the gateway downloads nothing.
FILE_REFERENCE = "telegram-file:"
GROUP_CHATS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<target>[A-Za-z0-9_]+))?(?=\s|$)")


class MalformedUpdate(ValueError):
    """The body is not a Telegram Update; the message says what is wrong."""


def parse_update(data: object, bot: Bot) -> Update:
    """A Telegram Update from decoded JSON, or MalformedUpdate saying why it is not one."""
    if not isinstance(data, dict):
        raise MalformedUpdate("expected a JSON object (a Telegram Update)")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedUpdate("an Update needs an integer update_id")
    used = {k: v for k, v in data.items() if k == "update_id" or k in ALLOWED_UPDATES}
    if len(used) == 1:
        # A kind the channel does not handle is kept unparsed (as api_kwargs): a field that a
        # newer Bot API added must not turn an update we only acknowledge into an error.
        update = Update(update_id, api_kwargs={k: v for k, v in data.items() if k not in used})
        update.set_bot(bot)
        return update
    try:
        return Update.de_json(used, bot)
    except KeyError as error:
        raise MalformedUpdate(f"not a Telegram Update: missing field {error}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise MalformedUpdate(f"not a Telegram Update: {error}") from None


def update_kind(update: Update) -> str:
    """The name of the field an update carries (message, callback_query, poll, …)."""
    for name, value in update.to_dict().items():
        if name != "update_id" and value is not None:
            return name
    return "empty"


def message_text(message: Message) -> str:
    """What the customer wrote: the text, or a media message's caption."""
    return message.text or message.caption or ""


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # lower case, without the slash
    target: str | None  # the bot a command names (`/start@caricom_bot`), lower case


def command_in(text: str) -> Command | None:
    """The bot command `text` starts with, if any."""
    found = _COMMAND.match(text)
    if found is None:
        return None
    target = found.group("target")
    return Command(name=found.group("name").lower(), target=target.lower() if target else None)


def is_group(message: Message) -> bool:
    return message.chat.type in GROUP_CHATS


def is_addressed_to(message: Message, me: User) -> bool:
    """In a group: the message mentions the bot, replies to it, or is a command naming it."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
        return True
    text = message_text(message)
    username = (me.username or "").lower()
    if username and _mention(username).search(text):
        return True
    command = command_in(text)
    if command is not None and username and command.target == username:
        return True
    entities = (*message.entities, *message.caption_entities)
    return any(
        e.type == MessageEntity.TEXT_MENTION and e.user is not None and e.user.id == me.id
        for e in entities
    )


def without_mention(text: str, me: User) -> str:
    """`text` without `@botname` (in mentions and commands), which means nothing to the bot."""
    if not me.username:
        return text
    text = re.sub(rf"(?<=^/)([A-Za-z0-9_]+)@{re.escape(me.username)}\b", r"\1", text, flags=re.I)
    return re.sub(r"[ \t]{2,}", " ", _mention(me.username.lower()).sub("", text)).strip()


def _mention(username: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@/])@{re.escape(username)}(?!\w)", re.IGNORECASE)


def attachments_in(message: Message) -> tuple[Attachment, ...]:
    """Media, stickers, locations and contacts in `message`, by reference (nothing downloaded)."""
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]
        found.append(Attachment("image", _file(largest.file_id), "image/jpeg"))
    if message.animation is not None:
        animation = message.animation
        found.append(
            Attachment("video", _file(animation.file_id), animation.mime_type, "animation")
        )
    elif message.document is not None:  # an animation comes with a copy of it as a document
        document = message.document
        found.append(
            Attachment("document", _file(document.file_id), document.mime_type, document.file_name)
        )
    if message.voice is not None:
        voice = message.voice
        found.append(
            Attachment("audio", _file(voice.file_id), voice.mime_type or "audio/ogg", "voice")
        )
    if message.audio is not None:
        audio = message.audio
        found.append(Attachment("audio", _file(audio.file_id), audio.mime_type, audio.title))
    if message.video is not None:
        video = message.video
        found.append(Attachment("video", _file(video.file_id), video.mime_type))
    if message.video_note is not None:
        found.append(
            Attachment("video", _file(message.video_note.file_id), "video/mp4", "video note")
        )
    if message.sticker is not None:
        sticker = message.sticker
        found.append(
            Attachment("sticker", _file(sticker.file_id), _sticker_type(sticker), sticker.emoji)
        )
    if message.location is not None:
        where = message.location
        venue = message.venue  # a venue comes with its location
        found.append(
            Attachment(
                "location",
                f"geo:{where.latitude},{where.longitude}",
                None,
                f"{venue.title}, {venue.address}" if venue is not None else None,
            )
        )
    if message.contact is not None:
        contact = message.contact
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        found.append(Attachment("contact", None, None, f"{name} {contact.phone_number}".strip()))
    return tuple(found)


def _file(file_id: str) -> str:
    return FILE_REFERENCE + file_id


def _sticker_type(sticker: Sticker) -> str:
    if sticker.is_animated:
        return "application/x-tgsticker"
    if sticker.is_video:
        return "video/webm"
    return "image/webp"


def display_name(message: Message) -> str | None:
    """Who wrote, for the contact record: the person in a private chat, the group's title."""
    if is_group(message):
        return message.chat.title
    user = message.from_user
    return user.full_name if user is not None else None
