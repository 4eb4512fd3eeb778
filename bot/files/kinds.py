"""What a file is, read from its first bytes (magic numbers), never from its name or a header.

Only what a rep can usefully look at is taken: photos (JPEG, PNG, WebP, HEIC) and PDF documents.
"""

from __future__ import annotations

from dataclasses import dataclass

# How many leading bytes `sniff` needs.
SNIFF_BYTES = 32

# ISO base media brands of HEIF/HEIC photos (phones' default format).
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


@dataclass(frozen=True, slots=True)
class FileKind:
    content_type: str
    extension: str
    kind: str  # bot.messages.Attachment.kind: "image" or "document"

    @property
    def is_image(self) -> bool:
        return self.kind == "image"


JPEG = FileKind("image/jpeg", "jpg", "image")
PNG = FileKind("image/png", "png", "image")
WEBP = FileKind("image/webp", "webp", "image")
HEIC = FileKind("image/heic", "heic", "image")
PDF = FileKind("application/pdf", "pdf", "document")
ACCEPTED = (JPEG, PNG, WEBP, HEIC, PDF)
DESCRIBED = "a photo (JPEG, PNG, WebP or HEIC) or a PDF"


def sniff(head: bytes) -> FileKind | None:
    """The kind of file that starts with `head`, or None when it is not one we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return HEIC
    if head.startswith(b"%PDF-"):
        return PDF
    return None
