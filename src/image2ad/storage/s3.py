"""An S3-compatible store (AWS S3, Cloudflare R2, MinIO, Supabase Storage) through obstore.

Small objects go up in one PUT; larger ones stream as a multipart upload holding at most
(concurrency + 1) parts in memory. Downloads can be handed to clients as presigned URLs.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from image2ad.config import StorageSettings
from image2ad.faults import crash_point
from image2ad.storage.base import ObjectNotFound, StorageError, StoredObject

if TYPE_CHECKING:
    from obstore import Attributes, GetOptions
    from obstore.store import ClientConfig, S3Config

READ_CHUNK = 256 * 1024
CHECK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
_SAFE_FILENAME = re.compile(r"[A-Za-z0-9._-]+")
_ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")


class S3Storage:
    def __init__(
        self, store: S3Store, *, part_size: int, concurrency: int, presign_ttl_s: int
    ) -> None:
        self.store = store
        self._part_size = part_size
        self._concurrency = concurrency
        self._presign_ttl_s = presign_ttl_s

    @classmethod
    def from_url(cls, url: str, settings: StorageSettings) -> S3Storage:
        """`s3://bucket/prefix`; endpoint, region and keys from settings, else AWS_* variables."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
        prefix = parsed.path.strip("/")
        if prefix:
            _path(prefix)
        return cls(
            S3Store(
                parsed.netloc,
                prefix=prefix or None,
                config=_config(settings),
                client_options=_client_options(settings),
                # obstore alone would retry an unreachable store for up to 3 minutes per call;
                # our callers retry with their own budgets (the finish workflow until the
                # job's deadline), so a call fails within seconds instead.
                retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=15)},
            ),
            part_size=settings.part_size_mb * 1024 * 1024,
            concurrency=settings.upload_concurrency,
            presign_ttl_s=settings.presign_ttl_s,
        )

    async def write(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        path = _path(key)
        source = _Source(chunks)
        head = await source.take(self._part_size)
        try:
            if source.exhausted:
                await obstore.put_async(
                    self.store, path, head, attributes=_attributes(key), use_multipart=False
                )
            else:
                # S3 shows a multipart object only once it is completed, and obstore aborts
                # the upload when the chunks or a part fail, so nothing partial is ever visible.
                await obstore.put_async(
                    self.store,
                    path,
                    source.rest(head),
                    attributes=_attributes(key),
                    chunk_size=self._part_size,
                    max_concurrency=self._concurrency,
                )
        except (BaseError, OSError) as exc:
            if source.failed:
                raise
            raise _translate(exc, key) from exc
        return StoredObject(key=key, size=source.size)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = _path(key)
        options: GetOptions = {}
        if end is not None:
            options["range"] = (start, end + 1)
        elif start:
            options["range"] = {"offset": start}
        with _errors(key):
            result = await obstore.get_async(self.store, path, options=options)
        stream = result.stream(min_chunk_size=READ_CHUNK)
        while True:
            with _errors(key):
                chunk = await anext(stream, None)
            if chunk is None:
                return
            yield chunk

    async def size(self, key: str) -> int:
        with _errors(key):
            meta = await obstore.head_async(self.store, _path(key))
        return meta["size"]

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self.store, _path(key))
        except FileNotFoundError:
            return False
        except (BaseError, OSError) as exc:
            raise _translate(exc, key) from exc
        return True

    async def delete(self, key: str) -> None:
        with _errors(key):
            await obstore.delete_async(self.store, _path(key))

    async def check(self) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await obstore.list_with_delimiter_async(self.store)
        except TimeoutError as exc:
            raise StorageError(f"the bucket did not answer within {CHECK_TIMEOUT_S} s") from exc
        except (BaseError, OSError) as exc:
            raise _translate(exc, "bucket") from exc

    def local_path(self, key: str) -> str | None:
        return None

    async def presigned_url(self, key: str) -> str | None:
        if not self._presign_ttl_s:
            return None
        ttl = timedelta(seconds=self._presign_ttl_s)
        with _errors(key):
            return await obstore.sign_async(self.store, "GET", _path(key), ttl)


class _Source:
    """The caller's chunks, counted; remembers whether they (not the store) failed."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.size = 0
        self.exhausted = False
        self.failed = False

    async def _next(self) -> bytes | None:
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self.exhausted = True
            return None
        except BaseException:
            self.failed = True
            raise
        self.size += len(chunk)
        return chunk

    async def take(self, limit: int) -> list[bytes]:
        """Chunks until they hold `limit` bytes or run out."""
        taken: list[bytes] = []
        total = 0
        while total < limit:
            chunk = await self._next()
            if chunk is None:
                break
            taken.append(chunk)
            total += len(chunk)
        return taken

    async def rest(self, head: list[bytes]) -> AsyncIterator[bytes]:
        for chunk in head:
            yield chunk
        head.clear()
        while (more := await self._next()) is not None:
            # The first part is with the store and the multipart upload is open.
            crash_point("S3")
            yield more


def _path(key: str) -> str:
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key {key!r}")
    return key


def _attributes(key: str) -> Attributes:
    """Headers the store serves with the object, so presigned downloads match our own."""
    name = key.rsplit("/", 1)[-1]
    attributes: Attributes = {
        "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream"
    }
    if _SAFE_FILENAME.fullmatch(name):
        attributes["Content-Disposition"] = f'inline; filename="{name}"'
    return attributes


def _config(settings: StorageSettings) -> S3Config:
    config: S3Config = {}
    if settings.endpoint:
        config["endpoint"] = settings.endpoint.rstrip("/")
    if settings.region:
        config["region"] = settings.region
    if settings.access_key_id:
        config["access_key_id"] = settings.access_key_id
    if settings.secret_access_key:
        config["secret_access_key"] = settings.secret_access_key.get_secret_value()
    if settings.virtual_hosted_style is not None:
        config["virtual_hosted_style_request"] = settings.virtual_hosted_style
    return config


def _client_options(settings: StorageSettings) -> ClientConfig:
    # Passing client options makes obstore ignore AWS_ALLOW_HTTP, so it is honoured here; an
    # explicit http:// endpoint (MinIO, a local emulator) is taken as consent to plain HTTP.
    endpoint = settings.endpoint or next(filter(None, map(os.environ.get, _ENDPOINT_ENV)), "")
    consent = os.environ.get("AWS_ALLOW_HTTP", "").lower() in ("1", "true")
    allow_http = consent or endpoint.startswith("http://")
    return {
        "timeout": timedelta(seconds=settings.timeout_s),
        # An unreachable store must fail fast, so the finish workflow's retries and the job's
        # deadline decide, not a ten-minute hang on one connection.
        "connect_timeout": timedelta(seconds=CONNECT_TIMEOUT_S),
        "allow_http": allow_http,
    }


def _translate(exc: Exception, key: str) -> StorageError:
    if isinstance(exc, FileNotFoundError):
        return ObjectNotFound(key)
    # obstore messages carry a multi-line debug dump after the first line.
    summary = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return StorageError(f"{key}: {summary}")


@contextmanager
def _errors(key: str) -> Iterator[None]:
    try:
        yield
    except (BaseError, OSError) as exc:
        raise _translate(exc, key) from exc
