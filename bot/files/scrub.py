"""Photos without their metadata: GPS location, camera, owner and editing data removed.

Each photo is decoded and encoded again from its pixels alone, so nothing in the original's
EXIF, XMP, IPTC or comment blocks survives, whatever their layout (editing the blocks in place
would trust the file's own structure). The orientation EXIF records is applied to the pixels
first, so the photo stays the right way up. HEIC photos (pillow-heif) come out as JPEG, which
every browser shows. The work is CPU-bound: callers run it in a thread.
"""

from __future__ import annotations

import io
import warnings

import pillow_heif
from PIL import Image, ImageOps

from bot.files.kinds import HEIC, JPEG, PNG, WEBP, FileKind

pillow_heif.register_heif_opener()

_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", HEIC: "HEIF"}


class UnreadableImage(ValueError):
    """The bytes start like a photo but are not one that can be decoded."""


def without_metadata(data: bytes, kind: FileKind) -> tuple[bytes, FileKind]:
    """`data` encoded again from its pixels only; HEIC becomes JPEG. Returns (bytes, kind)."""
    try:
        with warnings.catch_warnings():
            # A decompression bomb (far more pixels than a photo) is refused, not decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_FORMATS[kind]]) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise UnreadableImage(str(error)) from error
    except Image.DecompressionBombWarning as error:
        raise UnreadableImage(str(error)) from error
    out = io.BytesIO()
    if kind in (JPEG, HEIC):
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        # No exif, icc or comment passed: Pillow writes none.
        image.save(out, "JPEG", quality=90, optimize=True)
        return out.getvalue(), JPEG
    if kind == PNG:
        image.save(out, "PNG", optimize=True)  # no pnginfo: no text or eXIf chunks
        return out.getvalue(), PNG
    image.save(out, "WEBP", quality=90)
    return out.getvalue(), WEBP
