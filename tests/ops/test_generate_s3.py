"""`image2ad generate` against a server whose results live in S3: the result endpoint answers
307 to a presigned URL, and the CLI follows it and saves the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.fixtures.factories import create_user
from tests.fixtures.processes import ServerProcess
from tests.fixtures.s3 import MotoS3
from tests.ops.servers import app_env, cli, server


@pytest.fixture
def s3_server(moto_s3: MotoS3, tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    env = app_env(tmp_path, f"sqlite:///{tmp_path / 'app.sqlite'}", moto_s3)
    upgrade(env["IMAGE2AD_DATABASE_URL"])
    process = server(env, tmp_path)
    process.start()
    try:
        yield process, env
    finally:
        process.stop()


def test_generate_saves_a_result_served_by_redirect(
    s3_server: tuple[ServerProcess, dict[str, str]], moto_s3: MotoS3, tmp_path: Path
) -> None:
    process, env = s3_server
    db = Database(env["IMAGE2AD_DATABASE_URL"])
    try:
        user = create_user(db)
    finally:
        db.dispose()
    target = tmp_path / "ad.png"
    args = ["generate", "text-to-image", "Red sneakers, SALE", "--out", str(target)]
    args += ["--url", process.base_url, "--api-key", user.api_key]
    result = cli({}, *args)
    assert result.returncode == 0, result.stderr
    assert "saved" in result.stdout

    prefix = env["IMAGE2AD_STORAGE_URL"].split("/", 3)[3]
    (key,) = [k for k in moto_s3.keys(prefix) if "/results/" in f"/{k}"]
    stored = moto_s3.client().get_object(Bucket=moto_s3.bucket, Key=key)["Body"].read()
    assert target.read_bytes() == stored
    assert stored.startswith(b"\x89PNG")
