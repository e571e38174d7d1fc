from __future__ import annotations

from urllib.parse import urlparse
from urllib.request import url2pathname

from image2ad.storage.base import Storage
from image2ad.storage.local import LocalStorage


def storage_from_url(url: str) -> Storage:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from pathlib import Path

        return LocalStorage(Path(url2pathname(parsed.path)))
    raise SystemExit(f"Unsupported IMAGE2AD_STORAGE_URL scheme {parsed.scheme!r} (use file://)")
