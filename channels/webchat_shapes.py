"""`bot_uttered` bodies in the shapes of Rasa's socketio channel, with ours under `metadata`.

Rasa's widgets decide how to show a message by its keys: `rasa-webchat` shows a text only when
the body (less `metadata`) is exactly `{text}`, and buttons only for exactly `{text,
quick_replies}`; anything else becomes a "custom" message, which it drops unless the page
supplies a component for it. So a body carries only the keys Rasa's `SocketIOOutput` gives that
kind of message, and everything the project adds (who wrote it, an attachment's name and type)
goes under `metadata`, which those widgets pass through to the page unread.
"""

from __future__ import annotations

from typing import Any

from bot.messages import Reply


def rasa_shaped(reply: Reply, *, file_url: str | None = None) -> dict[str, Any]:
    """The `bot_uttered` body of `reply`: `{text}` or `{text, quick_replies}`, plus metadata.

    A rep's file goes as a link (`file_url`, expiring) on a line of its own under the text,
    which every widget shows; `metadata.attachment` describes it for widgets that show more.
    """
    metadata: dict[str, Any] = {"sender": str(reply.sender_kind)}
    text = reply.text
    if file_url is not None and reply.attachment is not None:
        text = f"{text}\n{file_url}" if text else file_url
        metadata["attachment"] = {
            "url": file_url,
            "name": reply.attachment.description,
            "content_type": reply.attachment.content_type,
        }
    body: dict[str, Any] = {"text": text}
    if reply.buttons:
        body["quick_replies"] = [
            {"content_type": "text", "title": b.title, "payload": b.payload} for b in reply.buttons
        ]
    body["metadata"] = metadata
    return body


def with_metadata(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with any of our keys at the top level moved under `metadata`.

    Replies stored in the outbox before bodies took Rasa's shapes carry `sender` beside `text`;
    they are sent in the new shape, so a widget that reconnects shows them too.
    """
    if "sender" not in body:
        return body
    moved = dict(body)
    metadata = dict(moved.get("metadata") or {})
    metadata.setdefault("sender", moved.pop("sender"))
    moved["metadata"] = metadata
    return moved
