"""Deleting objects nobody should keep, without letting a storage fault decide a job's outcome.

`discard` tries at once; what storage refuses is queued in `storage_cleanups`, and every worker's
sweeper (`sweep`) retries the queue with backoff until storage answers. Deleting is idempotent,
so two workers retrying the same key at once do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa

from image2ad.db import Database
from image2ad.dbutil import insert_ignore_conflict
from image2ad.models import StorageCleanup
from image2ad.models.base import utcnow
from image2ad.storage.base import Storage

log = logging.getLogger(__name__)

BATCH = 100
DELETE_TIMEOUT_S = 5.0
FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=1)
# A sweep claims a row for this long, so other workers skip it while it is being deleted.
CLAIM = timedelta(minutes=2)


async def discard(db: Database, storage: Storage, keys: Iterable[str | None], reason: str) -> None:
    """Delete each key now; a key storage refuses goes to the cleanup queue. Never raises."""
    for key in keys:
        if not key:
            continue
        try:
            # A store that accepts connections and never answers must not hold the caller.
            async with asyncio.timeout(DELETE_TIMEOUT_S):
                await storage.delete(key)
        except Exception as exc:
            log.warning("could not delete %s now (%s); queued for cleanup", key, exc)
            try:
                await asyncio.to_thread(_enqueue, db, key, reason, f"{type(exc).__name__}: {exc}")
            except Exception:
                # The database is unreachable too: the object stays behind as an unreferenced
                # file (harmless, never served); nothing here may fail the caller.
                log.exception("could not queue %s for cleanup", key)


def _enqueue(db: Database, key: str, reason: str, error: str) -> None:
    now = utcnow()
    with db.session() as session:
        insert_ignore_conflict(
            session,
            StorageCleanup.__table__,  # type: ignore[arg-type]
            {
                "key": key,
                "reason": reason,
                "attempts": 1,
                "last_error": error[:1000],
                "created_at": now,
                "next_attempt_at": now + FIRST_RETRY,
            },
        )


async def sweep(db: Database, storage: Storage) -> int:
    """Retry due cleanups; returns how many objects were deleted."""
    deleted = 0
    for row in await asyncio.to_thread(_claim_due, db):
        try:
            async with asyncio.timeout(DELETE_TIMEOUT_S):
                await storage.delete(row.key)
        except Exception as exc:
            # Storage is most likely still down: the rest of the batch waits for its claim to
            # lapse instead of each taking its own timeout now.
            await asyncio.to_thread(_postpone, db, row, f"{type(exc).__name__}: {exc}")
            break
        await asyncio.to_thread(_forget, db, row.key)
        deleted += 1
    if deleted:
        log.info("storage cleanup deleted %d queued objects", deleted)
    return deleted


def _claim_due(db: Database) -> list[StorageCleanup]:
    now = utcnow()
    claimed: list[StorageCleanup] = []
    with db.session() as session:
        rows = session.scalars(
            sa.select(StorageCleanup)
            .where(StorageCleanup.next_attempt_at <= now)
            .order_by(StorageCleanup.next_attempt_at)
            .limit(BATCH)
        ).all()
        for row in rows:
            result = session.execute(
                sa.update(StorageCleanup)
                .where(
                    StorageCleanup.key == row.key,
                    StorageCleanup.next_attempt_at == row.next_attempt_at,
                )
                .values(next_attempt_at=now + CLAIM)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(row)
        session.expunge_all()
    return claimed


def _postpone(db: Database, row: StorageCleanup, error: str) -> None:
    wait = min(FIRST_RETRY * (2 ** min(row.attempts, 12)), LONGEST_WAIT)
    with db.session() as session:
        session.execute(
            sa.update(StorageCleanup)
            .where(StorageCleanup.key == row.key)
            .values(
                attempts=row.attempts + 1,
                last_error=error[:1000],
                next_attempt_at=utcnow() + wait,
            )
        )


def _forget(db: Database, key: str) -> None:
    with db.session() as session:
        session.execute(sa.delete(StorageCleanup).where(StorageCleanup.key == key))
