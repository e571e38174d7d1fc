"""A multipart upload left open by a killed writer is aborted, never left to be billed."""

from __future__ import annotations

import os
from datetime import timedelta

from image2ad.storage.s3 import S3Storage
from tests.fixtures.s3 import MotoS3
from tests.storage.streams import chunks_of

MIB = 1024 * 1024


def _open_upload(moto_s3: MotoS3, key: str) -> None:
    """What a process killed between two parts leaves behind."""
    client = moto_s3.client()
    upload = client.create_multipart_upload(Bucket=moto_s3.bucket, Key=key)
    client.upload_part(
        Bucket=moto_s3.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * MIB
    )


async def test_the_next_write_of_the_key_aborts_a_killed_writers_upload(
    s3_storage: S3Storage, moto_s3: MotoS3, s3_prefix: str
) -> None:
    _open_upload(moto_s3, f"{s3_prefix}/results/a.mp4")
    _open_upload(moto_s3, f"{s3_prefix}/results/b.mp4")
    await s3_storage.write("results/a.mp4", chunks_of(os.urandom(6 * MIB)))
    assert moto_s3.pending_uploads(s3_prefix) == [f"{s3_prefix}/results/b.mp4"]
    assert await s3_storage.size("results/a.mp4") == 6 * MIB


async def test_the_sweep_aborts_old_uploads_under_the_prefix_only(
    s3_storage: S3Storage, moto_s3: MotoS3, s3_prefix: str
) -> None:
    _open_upload(moto_s3, f"{s3_prefix}/uploads/u1/c.png")
    _open_upload(moto_s3, f"other-{s3_prefix}/d.png")
    # moto dates every upload 2010-11-10, so each one here is old enough.
    assert await s3_storage.abort_abandoned_uploads(older_than=timedelta(days=365 * 100)) == 0
    assert await s3_storage.abort_abandoned_uploads() == 1
    assert moto_s3.pending_uploads(s3_prefix) == []
    assert moto_s3.pending_uploads(f"other-{s3_prefix}") == [f"other-{s3_prefix}/d.png"]
