"""An `imageUrl` fetched without letting it reach inside, then stored as an upload of the user's.

The fetch follows docs/adr/0005 (one strict parse, vetted and pinned addresses, checked
redirects, size and time caps), except that any public https host is allowed: the URL is the
caller's own image, wherever they keep it. Plain http only for IMAGE2AD_FUNCTIONS_HTTP_ORIGINS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from image2ad.errors import DomainError, InvalidInput, PayloadTooLarge
from image2ad.models import User
from image2ad.net.errors import FetchFailed, FetchRefused, TooLarge, URLRefused
from image2ad.net.safe_fetch import FetchPolicy, stream_to
from image2ad.net.urls import Allowlist, Target, parse
from image2ad.runtime import Runtime
from image2ad.uploads import service as uploads
from image2ad.uploads.images import MAX_UPLOAD_BYTES

FETCH_TIMEOUT_S = 60.0


class ImageRefused(DomainError):
    status_code = 422
    code = "image_url_refused"


class ImageUnreachable(DomainError):
    status_code = 422
    code = "image_url_unreachable"


@dataclass(frozen=True)
class PublicHosts(Allowlist):
    """Any https host (its addresses are still vetted), plain http only for listed origins."""

    def check(self, url: str) -> Target:
        target = parse(url)
        if target.scheme == "http" and (target.host, target.port) not in self.http_origins:
            raise URLRefused(f"plain http is not allowed for {target.origin}; use https")
        return target


def policy(rt: Runtime) -> FetchPolicy:
    download = rt.settings.download
    base = Allowlist.build((), rt.settings.functions.http_origins)
    return FetchPolicy(
        PublicHosts(frozenset(), base.http_origins),
        max_bytes=MAX_UPLOAD_BYTES,
        timeout_s=FETCH_TIMEOUT_S,
        connect_timeout_s=download.connect_timeout_s,
        min_rate=download.min_rate,
        rate_window_s=download.rate_window_s,
    )


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
    return bytes(body)


async def upload_from_url(rt: Runtime, user: User, url: str) -> str:
    """Fetch the image, check and re-encode it like `POST /uploads`; returns the upload id."""
    try:
        data = await stream_to(url, policy(rt), _collect)
    except TooLarge as exc:
        raise PayloadTooLarge(
            "imageUrl: images must be 10 MB or smaller.", field="imageUrl"
        ) from exc
    except FetchRefused as exc:
        raise ImageRefused(f"imageUrl was refused: {exc}", field="imageUrl") from exc
    except FetchFailed as exc:
        raise ImageUnreachable(f"imageUrl could not be fetched: {exc}", field="imageUrl") from exc
    if not data:
        raise InvalidInput("imageUrl: the image is empty.", field="imageUrl")
    name = PurePosixPath(urlsplit(url).path).name
    try:
        upload = await uploads.create(rt, user, data, name)
    except DomainError as exc:
        raise type(exc)(f"imageUrl: {exc.message}", field="imageUrl", headers=exc.headers) from exc
    return upload.id
