"""A delete that storage refuses is queued, never raised, and done once storage answers again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import sqlalchemy as sa

from image2ad.db import Database
from image2ad.models import StorageCleanup
from image2ad.models.base import utcnow
from image2ad.storage import cleanup
from image2ad.storage.s3 import S3Storage
from tests.fixtures.processes import free_port
from tests.fixtures.s3 import MotoS3
from tests.storage.streams import chunks_of


def make_due(db: Database, key: str) -> None:
    with db.session() as session:
        session.execute(
            sa.update(StorageCleanup)
            .where(StorageCleanup.key == key)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def test_a_refused_delete_is_queued_and_done_when_storage_is_back(
    db: Database, moto_s3: MotoS3, s3_prefix: str
) -> None:
    reachable = S3Storage.from_url(moto_s3.url(s3_prefix), moto_s3.settings())
    down = S3Storage.from_url(
        moto_s3.url(s3_prefix), moto_s3.settings(endpoint=f"http://127.0.0.1:{free_port()}")
    )
    key = f"results/{uuid4()}.png"
    asyncio.run(reachable.write(key, chunks_of(b"paid for, then canceled")))

    asyncio.run(cleanup.discard(db, down, [key, None], "test"))  # must not raise
    with db.session(read_only=True) as session:
        row = session.get(StorageCleanup, key)
        assert row is not None and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > utcnow()

    # Not due yet: the sweep leaves it; once due, a sweep against the live store deletes it.
    assert asyncio.run(cleanup.sweep(db, reachable)) == 0
    make_due(db, key)
    assert asyncio.run(cleanup.sweep(db, reachable)) == 1
    assert not asyncio.run(reachable.exists(key))
    with db.session(read_only=True) as session:
        assert session.get(StorageCleanup, key) is None


def test_a_sweep_while_storage_is_still_down_backs_off(
    db: Database, moto_s3: MotoS3, s3_prefix: str
) -> None:
    down = S3Storage.from_url(
        moto_s3.url(s3_prefix), moto_s3.settings(endpoint=f"http://127.0.0.1:{free_port()}")
    )
    key = f"results/{uuid4()}.mp4"
    asyncio.run(cleanup.discard(db, down, [key], "test"))
    make_due(db, key)
    assert asyncio.run(cleanup.sweep(db, down)) == 0
    with db.session(read_only=True) as session:
        row = session.get(StorageCleanup, key)
        assert row is not None and row.attempts == 2
        assert row.next_attempt_at - utcnow() > cleanup.FIRST_RETRY
    with db.session() as session:
        session.execute(sa.delete(StorageCleanup).where(StorageCleanup.key == key))
