"""Stream a provider result into our storage through the SSRF-safe fetcher (image2ad.net)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from PIL import Image

from image2ad.faults import crash_point
from image2ad.jobs.media import is_mp4
from image2ad.net.errors import FetchFailed, FetchRefused
from image2ad.net.safe_fetch import FetchPolicy, stream_to
from image2ad.storage.base import Storage, StorageError, StoredObject

HEAD_BYTES = 512 * 1024
EXIF_ORIENTATION = 0x0112
QUARTER_TURNS = (5, 6, 7, 8)


class DownloadRefused(Exception):
    """The result URL or its bytes are not acceptable; retrying will not help."""


class DownloadFailed(Exception):
    """A transient failure (network, 5xx); the download may be retried."""


@dataclass(frozen=True)
class StoredResult:
    key: str
    size: int
    content_type: str
    width: int | None
    height: int | None
    # Of exactly the stored bytes, hashed as they streamed through.
    sha256: str


def sniff_image(head: bytes) -> tuple[str, int | None, int | None]:
    """Content type and size (as shown: a JPEG's or WebP's EXIF orientation applied) from the
    first bytes; refuses anything that is not PNG/JPEG/WebP."""
    try:
        with Image.open(io.BytesIO(head)) as image:
            fmt = (image.format or "").upper()
            width, height = image.size
            # A JPEG's or WebP's EXIF is in its header; a PNG's may follow the pixels.
            if fmt in ("JPEG", "WEBP") and image.getexif().get(EXIF_ORIENTATION) in QUARTER_TURNS:
                width, height = height, width
    except Exception as exc:
        raise DownloadRefused("the provider's result is not a readable image") from exc
    types = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
    if fmt not in types:
        raise DownloadRefused(f"the provider's result is an unexpected {fmt or 'file'}")
    return types[fmt], width, height


async def store_result(
    url: str, storage: Storage, key: str, *, policy: FetchPolicy, result_type: str
) -> StoredResult:
    """Fetch `url` under `policy` into `storage` at `key`, then check what arrived."""
    head = bytearray()
    digest = hashlib.sha256()

    async def keep_head(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
        async for chunk in chunks:
            digest.update(chunk)
            if len(head) < HEAD_BYTES:
                head.extend(chunk[: HEAD_BYTES - len(head)])
            yield chunk
            # The store has this chunk but not the whole object yet.
            crash_point("D1")

    async def write(chunks: AsyncIterator[bytes]) -> StoredObject:
        async with aclosing(keep_head(chunks)) as kept:
            return await storage.write(key, kept)

    try:
        stored = await stream_to(url, policy, write)
    except FetchRefused as exc:
        raise DownloadRefused(str(exc)) from exc
    except FetchFailed as exc:
        raise DownloadFailed(str(exc)) from exc
    except (StorageError, OSError) as exc:
        raise DownloadFailed(f"storing the result failed: {type(exc).__name__}") from exc
    if stored.size == 0:
        await storage.delete(key)
        raise DownloadRefused("the provider's result is empty")
    if result_type == "image":
        try:
            content_type, width, height = sniff_image(bytes(head))
        except DownloadRefused:
            await storage.delete(key)
            raise
        return StoredResult(key, stored.size, content_type, width, height, digest.hexdigest())
    if not is_mp4(bytes(head)):
        await storage.delete(key)
        raise DownloadRefused("the provider's result is not an MP4 video")
    return StoredResult(key, stored.size, "video/mp4", None, None, digest.hexdigest())
