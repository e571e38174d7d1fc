from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from image2ad.config import StorageSettings
from image2ad.storage.base import Storage, StorageError
from image2ad.storage.local import LocalStorage


def storage_from_url(url: str, s3: StorageSettings | None = None) -> Storage:
    """The store IMAGE2AD_STORAGE_URL names; S3 settings default to the environment."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(Path(url2pathname(parsed.path)))
    if parsed.scheme == "s3":
        from image2ad.storage.s3 import S3Storage

        try:
            return S3Storage.from_url(url, s3 or StorageSettings())
        except (ValueError, StorageError) as exc:
            raise SystemExit(f"Invalid IMAGE2AD_STORAGE_URL: {exc}") from exc
    raise SystemExit(
        f"Unsupported IMAGE2AD_STORAGE_URL scheme {parsed.scheme!r} (use file:// or s3://)"
    )
