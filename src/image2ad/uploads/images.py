"""Deciding what an uploaded file is from its bytes, and re-encoding it without metadata."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from image2ad.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # Kie's limit for reference images
MAX_PIXELS = 40_000_000  # our own cap: Pillow only warns at ~89 M pixels
MAX_SIDE = 12_000

# Formats by magic bytes; the name and Content-Type the client sends are ignored.
FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def sniff(data: bytes) -> str:
    """The format the bytes really are, or 415."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise UnsupportedMediaType("Upload a JPEG, PNG or WebP image.", field="file")


def clean(data: bytes) -> CleanImage:
    """Check the image from its header before decoding it, then re-encode it stripped."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge("Images must be 10 MB or smaller.", field="file")
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    fmt = sniff(data)
    too_big = InvalidInput(
        f"The image is too large: the limit is {MAX_PIXELS // 1_000_000} megapixels and "
        f"{MAX_SIDE} px per side.",
        field="file",
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                # Only the header has been read so far: refuse before decoding any pixels.
                width, height = image.size
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise too_big
                image.load()
                return _encode(ImageOps.exif_transpose(image), fmt)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise too_big from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput("The file is not a readable image.", field="file") from exc


def _encode(image: Image.Image, fmt: str) -> CleanImage:
    # A fresh image carries pixels only: no EXIF, GPS, XMP, comments or text chunks.
    if fmt == "JPEG":
        pixels = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        pixels = image.convert(
            "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
        )
    else:
        pixels = image.copy()
    pixels.info = {}
    out = io.BytesIO()
    if fmt == "JPEG":
        pixels.save(out, "JPEG", quality=92, optimize=True)
    elif fmt == "PNG":
        pixels.save(out, "PNG", optimize=False)
    else:
        pixels.save(out, "WEBP", quality=92)
    data = out.getvalue()
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge("The image is larger than 10 MB once re-encoded.", field="file")
    content_type, extension = FORMATS[fmt]
    return CleanImage(data, content_type, extension, pixels.width, pixels.height)
