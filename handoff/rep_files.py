"""A rep's photo or PDF as a reply: checked like a customer's upload, kept, then sent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.files.intake import NotAccepted, accepted
from bot.files.store import FileStore, new_key
from bot.messages import Attachment
from bot.replies import ReplyService
from bot.store.models import Rep
from handoff import replies
from handoff.errors import Invalid


async def send_rep_file(
    *,
    session: AsyncSession,
    replies_service: ReplyService,
    files: FileStore,
    conversation_id: int,
    rep: Rep,
    data: bytes,
    name: str | None,
    text: str | None,
) -> int:
    """Send `data` (with `text`, else its name) to the customer as `rep`'s reply; the message's
    id. `Invalid` when it is not a photo or PDF; the owner check is the reply's own."""
    try:
        data, kind = await accepted(data)
    except NotAccepted as refused:
        raise Invalid(str(refused)) from refused
    name = name or f"attachment.{kind.extension}"
    key = new_key("replies", kind.extension)
    await files.put(key, data, kind.content_type)
    attachment = Attachment(kind.kind, content_type=kind.content_type, description=name, file=key)
    try:
        return await replies.send_rep_reply(
            session=session,
            replies=replies_service,
            conversation_id=conversation_id,
            rep=rep,
            text=text or name,
            attachment=attachment,
        )
    except Exception:
        await files.delete(key)  # no message refers to it
        raise
