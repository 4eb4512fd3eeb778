"""Test photos and documents: a JPEG carrying GPS and camera EXIF, like a phone's."""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

CAMERA_MAKE = "CaricomTestCam"
GPS_IFD = 0x8825


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE  # Make
    exif[0x0110] = "Model X-1"  # Model
    exif[0x0131] = "PhotoEditor 9"  # Software
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (18.0, 1.0, 2.5)  # GPSLatitude: Kingston-ish
    gps[3] = "W"
    gps[4] = (76.0, 47.0, 1.0)
    return exif


def photo_with_location(fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A photo in `fmt` (JPEG, PNG, WEBP) whose EXIF has a camera make and a GPS position."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt, exif=_exif())
    data = out.getvalue()
    assert CAMERA_MAKE.encode() in data
    return data


def heic_with_location() -> bytes:
    out = io.BytesIO()
    pillow_heif.register_heif_opener()
    Image.new("RGB", (64, 48), (30, 30, 200)).save(out, "HEIF", exif=_exif().tobytes())
    data = out.getvalue()
    assert CAMERA_MAKE.encode() in data
    return data


def has_metadata(data: bytes) -> bool:
    """Any EXIF at all, a camera make or a GPS block left in `data`."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        return bool(exif) or bool(exif.get_ifd(GPS_IFD)) or CAMERA_MAKE.encode() in data


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
