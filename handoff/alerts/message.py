"""What an alert says: the webhook's JSON body and the email, from the stored alert."""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from bot.store.models import Alert, AlertKind

_TITLES = {
    AlertKind.AT_RISK: "Handoff at risk of missing its response window",
    AlertKind.BREACHED: "Handoff past its response window",
    AlertKind.FOLLOW_UP_OVERDUE: "Follow-up overdue",
    AlertKind.LANGUAGE_UNSERVED: "Nobody available speaks the customer's language",
}


def title(kind: AlertKind) -> str:
    return _TITLES[kind]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def alert_document(alert: Alert, *, console_base_url: str) -> dict[str, Any]:
    """The webhook body: stable field names a receiver can depend on."""
    link = (
        f"{console_base_url}/console/conversations/{alert.conversation_id}"
        if alert.conversation_id is not None
        else None
    )
    return {
        "id": alert.id,
        "kind": str(alert.kind),
        "title": title(AlertKind(alert.kind)),
        "subject": alert.subject,
        "conversation_id": alert.conversation_id,
        "raised_at": _iso(alert.created_at),
        "details": alert.details,
        "console_url": link,
    }


def webhook_body(document: dict[str, Any]) -> bytes:
    """Canonical JSON bytes: the signature is over exactly these."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def alert_email(
    document: dict[str, Any], *, sender: str, recipients: list[str], domain: str
) -> EmailMessage:
    """A plain-text email; its Message-ID names the alert, so a resent copy is recognisable."""
    message = EmailMessage()
    message["Subject"] = f"[Caricom Connects] {document['title']}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = f"<alert-{document['id']}@{domain}>"
    lines = [document["title"], ""]
    if document["conversation_id"] is not None:
        lines.append(f"Conversation: {document['conversation_id']}")
    lines.append(f"Raised at: {document['raised_at']}")
    for key, value in sorted(document["details"].items()):
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    if document["console_url"]:
        lines += ["", f"Open it: {document['console_url']}"]
    message.set_content("\n".join(lines) + "\n")
    return message
