"""What only the S3 store does: keys under the prefix, multipart, presigned links, the bucket
check, configuration, and a 500 MB upload in bounded memory. Runs against moto's S3 API."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pydantic
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.responses import StreamingResponse

from image2ad.storage.base import StorageError, presigned_url
from image2ad.storage.factory import storage_from_url
from image2ad.storage.s3 import S3Storage
from image2ad.storage.serving import serve_object
from tests.fixtures import s3 as moto
from tests.fixtures.s3 import MotoS3
from tests.storage.memory import PeakRss
from tests.storage.streams import chunks_of, failing_after

MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)


async def test_keys_live_under_the_prefix_with_their_media_headers(
    s3_storage: S3Storage, moto_s3: MotoS3, s3_prefix: str
) -> None:
    await s3_storage.write("results/u1/text-to-image/j1-1.png", chunks_of(PNG))
    await s3_storage.write("results/u1/text-to-video/j2-1.mp4", chunks_of(os.urandom(6 * MIB)))
    assert moto_s3.keys(s3_prefix) == [
        f"{s3_prefix}/results/u1/text-to-image/j1-1.png",
        f"{s3_prefix}/results/u1/text-to-video/j2-1.mp4",
    ]
    head = moto_s3.client().head_object(
        Bucket=moto_s3.bucket, Key=f"{s3_prefix}/results/u1/text-to-video/j2-1.mp4"
    )
    assert head["ContentType"] == "video/mp4"
    assert head["ContentDisposition"] == 'inline; filename="j2-1.mp4"'
    assert head["ETag"].endswith('-2"')  # two parts: the video went up as a multipart upload
    first_part = moto_s3.client().head_object(
        Bucket=moto_s3.bucket, Key=f"{s3_prefix}/results/u1/text-to-video/j2-1.mp4", PartNumber=1
    )
    assert first_part["ContentLength"] == 5 * MIB  # equal parts, as R2 requires


async def test_a_failed_multipart_upload_is_aborted(
    s3_storage: S3Storage, moto_s3: MotoS3, s3_prefix: str
) -> None:
    with pytest.raises(Exception, match="midway"):
        await s3_storage.write("results/half.mp4", failing_after(os.urandom(13 * MIB)))
    assert moto_s3.keys(s3_prefix) == []
    assert moto_s3.pending_uploads(s3_prefix) == []


@pytest.mark.parametrize("key", ["a//b", "a/./b", "trailing/"])
async def test_keys_s3_would_misread_are_refused(s3_storage: S3Storage, key: str) -> None:
    with pytest.raises(StorageError):
        await s3_storage.write(key, chunks_of(b"x"))


def signature_by_botocore(url: str, ttl_s: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SigV4 query signature botocore computes for the same request, date and expiry."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: signed_at)
    request = AWSRequest(method="GET", url=f"{parts.scheme}://{parts.netloc}{parts.path}")
    credentials = Credentials(moto.ACCESS_KEY_ID, moto.SECRET_ACCESS_KEY)
    S3SigV4QueryAuth(credentials, "s3", moto.REGION, expires=ttl_s).add_auth(request)
    return str(dict(parse_qsl(urlsplit(request.url).query))["X-Amz-Signature"])


async def test_presigned_links_fetch_the_bytes_and_carry_a_signed_expiry(
    moto_s3: MotoS3, s3_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3Storage.from_url(moto_s3.url(s3_prefix), moto_s3.settings(presign_ttl_s=60))
    await store.write("results/u/j.png", chunks_of(PNG))
    url = await presigned_url(store, "results/u/j.png")
    assert url is not None and url.startswith(f"{moto_s3.endpoint}/{moto_s3.bucket}/{s3_prefix}/")

    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == 'inline; filename="j.png"'

    # moto does not enforce X-Amz-Expires, so the expiry is checked the way S3 checks it: the
    # link says 60 s from its signing time, and the signature covers both.
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-Expires"] == "60"
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    assert abs((datetime.now(UTC).replace(tzinfo=None) - signed_at).total_seconds()) < 60
    assert query["X-Amz-Signature"] == signature_by_botocore(url, 60, monkeypatch)
    assert query["X-Amz-Signature"] != signature_by_botocore(url, 604800, monkeypatch)


def test_presigned_links_live_at_most_15_minutes(moto_s3: MotoS3) -> None:
    assert moto_s3.settings().presign_ttl_s == 300
    with pytest.raises(pydantic.ValidationError):
        moto_s3.settings(presign_ttl_s=901)


async def test_results_redirect_to_the_store_or_stream_when_presigning_is_off(
    moto_s3: MotoS3, s3_prefix: str
) -> None:
    signing = S3Storage.from_url(moto_s3.url(s3_prefix), moto_s3.settings())
    await signing.write("results/u/j.png", chunks_of(PNG))

    redirect = await serve_object(signing, "results/u/j.png", "image/png")
    assert redirect.status_code == 307
    async with httpx.AsyncClient() as client:
        assert (await client.get(redirect.headers["location"])).content == PNG

    streaming = S3Storage.from_url(moto_s3.url(s3_prefix), moto_s3.settings(presign_ttl_s=0))
    assert await presigned_url(streaming, "results/u/j.png") is None
    response = await serve_object(streaming, "results/u/j.png", "image/png")
    assert isinstance(response, StreamingResponse) and response.status_code == 200
    assert response.headers["content-length"] == str(len(PNG))
    chunks = [chunk async for chunk in response.body_iterator if isinstance(chunk, bytes)]
    assert b"".join(chunks) == PNG


async def test_check_fails_for_a_missing_bucket(moto_s3: MotoS3) -> None:
    await S3Storage.from_url(moto_s3.url("p"), moto_s3.settings()).check()
    missing = S3Storage.from_url("s3://no-such-bucket/p", moto_s3.settings())
    with pytest.raises(StorageError, match=r"NoSuchBucket|404"):
        await missing.check()


def test_the_factory_builds_s3_stores_from_the_url(moto_s3: MotoS3) -> None:
    store = storage_from_url(moto_s3.url("a/b"), moto_s3.settings())
    assert isinstance(store, S3Storage) and store.store.prefix == "a/b"
    assert store.local_path("x.png") is None
    for bad in ("s3://", "s3://bucket/a/../b", "s3://bucket/p?region=x"):
        with pytest.raises(SystemExit, match="IMAGE2AD_STORAGE_URL"):
            storage_from_url(bad, moto_s3.settings())


@pytest.mark.parametrize("source", ["IMAGE2AD_S3_*", "AWS_*"])
async def test_configuration_from_the_environment(
    moto_s3: MotoS3, s3_prefix: str, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    env: dict[str, Any] = moto_s3.env()
    if source == "AWS_*":
        env = {name.replace("IMAGE2AD_S3_", "AWS_"): value for name, value in env.items()}
        env["AWS_ENDPOINT_URL"] = env.pop("AWS_ENDPOINT")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = storage_from_url(moto_s3.url(s3_prefix))
    await store.write("k.txt", chunks_of(b"from the environment"))
    assert moto_s3.keys(s3_prefix) == [f"{s3_prefix}/k.txt"]


async def test_500_mb_streams_through_in_bounded_memory(s3_storage: S3Storage) -> None:
    chunk_size, total = 256 * 1024, 500 * MIB
    filler = os.urandom(chunk_size - 8)
    sent = hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        for index in range(total // chunk_size):
            chunk = index.to_bytes(8, "big") + filler  # a fresh object, as a download yields
            sent.update(chunk)
            yield chunk

    try:
        with PeakRss() as upload:
            stored = await s3_storage.write("results/u/big.mp4", generated())
        assert stored.size == total == await s3_storage.size("results/u/big.mp4")

        received = hashlib.sha256()
        with PeakRss() as download:
            async for chunk in s3_storage.read("results/u/big.mp4"):
                received.update(chunk)
        assert received.hexdigest() == sent.hexdigest()
    finally:
        await s3_storage.delete("results/u/big.mp4")

    print(f"500 MiB: RSS +{upload.growth_mib:.1f} MiB up, +{download.growth_mib:.1f} MiB down")
    assert upload.growth_mib <= 32, f"upload grew RSS by {upload.growth_mib:.1f} MiB"
    assert download.growth_mib <= 32, f"download grew RSS by {download.growth_mib:.1f} MiB"
