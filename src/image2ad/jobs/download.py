"""Stream a provider result into our storage: allowlisted hosts only, capped, constant memory."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
from PIL import Image

from image2ad.jobs.media import is_mp4
from image2ad.storage.base import Storage

HEAD_BYTES = 512 * 1024
CHUNK = 256 * 1024


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


def check_url(url: str, allowed_hosts: frozenset[str], plain_http_hosts: frozenset[str]) -> None:
    parsed = urlparse(url)
    netloc = parsed.netloc.lower()
    if parsed.scheme == "https" and (parsed.hostname or "") in allowed_hosts:
        return
    if parsed.scheme == "http" and netloc in plain_http_hosts:
        return
    raise DownloadRefused(f"result URL host is not allowed: {parsed.scheme}://{netloc}")


def sniff_image(head: bytes) -> tuple[str, int | None, int | None]:
    """Content type and size from the first bytes; refuses anything that is not PNG/JPEG/WebP."""
    try:
        with Image.open(io.BytesIO(head)) as image:
            fmt = (image.format or "").upper()
            width, height = image.size
    except Exception as exc:
        raise DownloadRefused("the provider's result is not a readable image") from exc
    types = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
    if fmt not in types:
        raise DownloadRefused(f"the provider's result is an unexpected {fmt or 'file'}")
    return types[fmt], width, height


async def store_result(
    url: str,
    storage: Storage,
    key: str,
    *,
    allowed_hosts: frozenset[str],
    plain_http_hosts: frozenset[str],
    max_bytes: int,
    timeout_s: float,
    result_type: str,
) -> StoredResult:
    check_url(url, allowed_hosts, plain_http_hosts)
    head = bytearray()
    timeout = httpx.Timeout(timeout_s, connect=10.0)
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 500 or response.status_code == 429:
                raise DownloadFailed(f"result download answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise DownloadRefused(f"result download answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadRefused(f"result is {declared} bytes; the limit is {max_bytes}")

            async def chunks() -> AsyncIterator[bytes]:
                total = 0
                async for chunk in response.aiter_bytes(CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise DownloadRefused(f"result is larger than {max_bytes} bytes")
                    if len(head) < HEAD_BYTES:
                        head.extend(chunk[: HEAD_BYTES - len(head)])
                    yield chunk
                if declared is not None and declared.isdigit() and total != int(declared):
                    raise DownloadFailed("result download ended early")

            stored = await storage.write(key, chunks())
    except httpx.HTTPError as exc:
        raise DownloadFailed(f"result download failed: {type(exc).__name__}") from exc
    if stored.size == 0:
        raise DownloadRefused("the provider's result is empty")
    if result_type == "image":
        try:
            content_type, width, height = sniff_image(bytes(head))
        except DownloadRefused:
            await storage.delete(key)
            raise
        return StoredResult(key, stored.size, content_type, width, height)
    if not is_mp4(bytes(head)):
        await storage.delete(key)
        raise DownloadRefused("the provider's result is not an MP4 video")
    return StoredResult(key, stored.size, "video/mp4", None, None)
