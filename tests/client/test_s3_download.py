"""Against a server whose results live in S3 (moto): the result endpoint answers 307 to a
presigned URL, which the SDK follows without taking the API key along."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from image2ad.client import AsyncClient, Client
from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.client.faults import AsyncFaults, Faults, SyncFaults
from tests.fixtures.factories import TestUser, create_user
from tests.fixtures.processes import ServerProcess
from tests.fixtures.s3 import MotoS3
from tests.ops.servers import app_env, server


@pytest.fixture(scope="module")
def s3_server(
    moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, TestUser, MotoS3, str]]:
    tmp = tmp_path_factory.mktemp("sdk-s3")
    env = app_env(tmp, f"sqlite:///{tmp / 'app.sqlite'}", moto_s3)
    upgrade(env["IMAGE2AD_DATABASE_URL"])
    db = Database(env["IMAGE2AD_DATABASE_URL"])
    try:
        user = create_user(db, credits=5)
    finally:
        db.dispose()
    process = server(env, tmp)
    process.start()
    try:
        yield process, user, moto_s3, env["IMAGE2AD_STORAGE_URL"].split("/", 3)[3]
    finally:
        process.stop()


def stored_result(s3: MotoS3, prefix: str, job_id: str) -> bytes:
    (key,) = [k for k in s3.keys(prefix) if "/results/" in f"/{k}" and job_id in k]
    body: bytes = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    return body


def assert_key_stayed_home(faults: Faults, base_url: str) -> None:
    storage = [r for r in faults.requests if not str(r.url).startswith(base_url)]
    assert storage, "the result was not fetched from storage"
    assert all("authorization" not in r.headers for r in storage)


def test_download_follows_the_redirect_to_storage(
    s3_server: tuple[ServerProcess, TestUser, MotoS3, str], tmp_path: Path
) -> None:
    process, user, s3, prefix = s3_server
    faults = Faults()
    with Client(process.base_url, user.api_key, transport=SyncFaults(faults)) as sdk:
        job = sdk.run("text-to-image", "Red sneakers, SALE")
        data = sdk.download(job)
        saved = sdk.download_to(job, tmp_path / "ad.png")
    assert data.startswith(b"\x89PNG")
    assert data == saved.read_bytes() == stored_result(s3, prefix, job.id)
    assert_key_stayed_home(faults, process.base_url)


async def test_async_download_follows_the_redirect_to_storage(
    s3_server: tuple[ServerProcess, TestUser, MotoS3, str], tmp_path: Path
) -> None:
    process, user, s3, prefix = s3_server
    faults = Faults()
    async with AsyncClient(process.base_url, user.api_key, transport=AsyncFaults(faults)) as sdk:
        job = await sdk.run("text-to-image", "Blue sneakers, SALE")
        data = await sdk.download(job)
        saved = await sdk.download_to(job, tmp_path / "ad.png")
    assert data == saved.read_bytes() == stored_result(s3, prefix, job.id)
    assert_key_stayed_home(faults, process.base_url)
