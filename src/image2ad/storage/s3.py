"""An S3-compatible store (AWS S3, Cloudflare R2, MinIO, Supabase Storage) through obstore.

Small objects go up in one PUT; larger ones stream as a multipart upload holding at most
(concurrency + 1) parts in memory. Downloads can be handed to clients as presigned URLs.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import httpx
import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from image2ad.config import StorageSettings
from image2ad.faults import crash_point
from image2ad.storage.base import ObjectNotFound, StorageError, StoredObject
from image2ad.storage.s3_uploads import BucketUploads

if TYPE_CHECKING:
    from obstore import Attributes, GetOptions
    from obstore.store import ClientConfig, S3Config

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
# No write takes this long (downloads time out after minutes): an upload this old is abandoned.
ABANDONED_AFTER = timedelta(hours=1)
CHECK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
_SAFE_FILENAME = re.compile(r"[A-Za-z0-9._-]+")
_ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")


class S3Storage:
    def __init__(
        self,
        store: S3Store,
        *,
        part_size: int,
        concurrency: int,
        presign_ttl_s: int,
        uploads: BucketUploads | None = None,
        prefix: str = "",
    ) -> None:
        self.store = store
        self._part_size = part_size
        self._concurrency = concurrency
        self._presign_ttl_s = presign_ttl_s
        self._uploads = uploads
        self._prefix = prefix
        self._sweep: asyncio.Task[int] | None = None

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
            uploads=_bucket_uploads(parsed.netloc, settings),
            prefix=prefix,
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
                await self._abort_open_uploads(path)
        except (BaseError, OSError) as exc:
            if source.failed:
                raise
            raise _translate(exc, key) from exc
        return StoredObject(key=key, size=source.size)

    async def _abort_open_uploads(self, path: str) -> None:
        """Our upload of `path` is complete, so an open one for it is a killed writer's."""
        if self._uploads is None:
            return
        if self._sweep is None:
            self._sweep = asyncio.create_task(self.abort_abandoned_uploads())
        full = f"{self._prefix}/{path}" if self._prefix else path
        try:
            for upload in await self._uploads.list_open(full):
                if upload.key == full:
                    await self._uploads.abort(upload)
                    log.info("aborted an abandoned multipart upload of %s", path)
        except (httpx.HTTPError, ValueError) as exc:
            # The object is stored; the startup sweep or the bucket's lifecycle rule retries.
            log.warning("could not abort abandoned uploads of %s: %s", path, exc)

    async def abort_abandoned_uploads(self, older_than: timedelta = ABANDONED_AFTER) -> int:
        """Abort every open multipart upload under our prefix started before `older_than`."""
        if self._uploads is None:
            return 0
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        try:
            for upload in await self._uploads.list_open(f"{self._prefix}/" if self._prefix else ""):
                if upload.initiated < cutoff:
                    await self._uploads.abort(upload)
                    aborted += 1
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not sweep abandoned multipart uploads: %s", exc)
        if aborted:
            log.info("aborted %d abandoned multipart uploads", aborted)
        return aborted

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


def _bucket_uploads(bucket: str, settings: StorageSettings) -> BucketUploads | None:
    """The multipart-upload janitor's view of the bucket; None without static keys."""
    env = os.environ.get
    key_id = settings.access_key_id or env("AWS_ACCESS_KEY_ID")
    secret = settings.secret_access_key
    secret_value = secret.get_secret_value() if secret else env("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret_value:
        return None
    region = settings.region or env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = (
        settings.endpoint
        or next(filter(None, map(env, _ENDPOINT_ENV)), None)
        or f"https://s3.{region}.amazonaws.com"
    )
    return BucketUploads(
        endpoint=endpoint,
        bucket=bucket,
        region=region,
        access_key_id=key_id,
        secret_access_key=secret_value,
        session_token=env("AWS_SESSION_TOKEN"),
        virtual_hosted=bool(settings.virtual_hosted_style),
        timeout_s=min(settings.timeout_s, 30.0),
    )


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
