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
# Kie's models make images of a few megapixels: a larger reference is kept at this size.
REFERENCE_SIDE = 4096
# Memory one decode may take for its pixels. A few bytes of PNG can claim 40 M pixels, and the
# decoded image is what costs: with DECODE_SLOTS (uploads/service.py) decodes at a time, this
# bounds what uploads can make a process hold.
DECODE_BUDGET_BYTES = 128 * 1024 * 1024

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
        f"{MAX_SIDE} px per side, and less for colour PNG and WebP images (about "
        f"{DECODE_BUDGET_BYTES // 4_000_000} and {DECODE_BUDGET_BYTES // 8_000_000} megapixels).",
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
                if fmt == "JPEG":
                    _decode_reduced(image)
                if decoded_bytes(image, fmt) > DECODE_BUDGET_BYTES:
                    raise too_big
                image.load()
                image.thumbnail((REFERENCE_SIDE, REFERENCE_SIDE), reducing_gap=2.0)
                ImageOps.exif_transpose(image, in_place=True)
                return _encode(image, fmt)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise too_big from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput("The file is not a readable image.", field="file") from exc


def _decode_reduced(image: Image.Image) -> None:
    """Have a JPEG decoded at 1/2, 1/4 or 1/8 scale (in the DCT, at that memory cost) when it is
    at least twice the reference size."""
    width, height = image.size
    scale = max(width, height) / (REFERENCE_SIDE // 2)
    if scale >= 2:
        image.draft(None, (max(1, int(width / scale)), max(1, int(height / scale))))


def decoded_bytes(image: Image.Image, fmt: str) -> int:
    """What decoding the image will allocate for its pixels (Pillow keeps 8-bit modes in one
    byte a pixel, 16-bit ones in two and every other in four)."""
    mode = image.mode
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    # libwebp decodes into its own buffer, which is then copied.
    copies = 2 if fmt == "WEBP" else 1
    return image.width * image.height * per_pixel * copies


def _encode(image: Image.Image, fmt: str) -> CleanImage:
    # A fresh image carries pixels only: no EXIF, GPS, XMP, comments or text chunks.
    if fmt == "JPEG":
        pixels = image.convert("RGB")
    elif image.mode == "1":
        pixels = image.convert("L")  # a quarter of RGB's memory, the same picture
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
