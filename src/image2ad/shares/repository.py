"""Every query of share links and of what they show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.models import Job, Pack, Share

# A user's list of links is a management view, not an archive: the newest this many.
LIST_MAX = 100


def owned_pack(session: Session, pack_id: str, user_id: str) -> Pack | None:
    return session.scalar(
        sa.select(Pack).where(
            Pack.id == pack_id, Pack.user_id == user_id, Pack.deleted_at.is_(None)
        )
    )


def add(session: Session, share: Share) -> Share:
    session.add(share)
    session.flush()
    return share


def active(
    session: Session,
    user_id: str,
    now: datetime,
    *,
    job_id: str | None = None,
    pack_id: str | None = None,
) -> Sequence[Share]:
    query = (
        sa.select(Share)
        .where(Share.user_id == user_id, Share.revoked_at.is_(None), Share.expires_at > now)
        .order_by(Share.created_at.desc(), Share.id)
        .limit(LIST_MAX)
    )
    if job_id is not None:
        query = query.where(Share.job_id == job_id)
    if pack_id is not None:
        query = query.where(Share.pack_id == pack_id)
    return session.scalars(query).all()


def owned(session: Session, share_id: str, user_id: str) -> Share | None:
    return session.scalar(sa.select(Share).where(Share.id == share_id, Share.user_id == user_id))


def by_token_hash(session: Session, token_hash: str) -> Share | None:
    return session.scalar(sa.select(Share).where(Share.token_hash == token_hash))


def live_job(session: Session, job_id: str, user_id: str) -> Job | None:
    """The owner's job, unless it was deleted."""
    return session.scalar(
        sa.select(Job).where(Job.id == job_id, Job.user_id == user_id, Job.deleted_at.is_(None))
    )


def pack_jobs(session: Session, pack_id: str, user_id: str) -> Sequence[Job]:
    """The pack's jobs that were not deleted, by placement then variant."""
    return session.scalars(
        sa.select(Job)
        .where(Job.pack_id == pack_id, Job.user_id == user_id, Job.deleted_at.is_(None))
        .order_by(Job.placement, Job.variant, Job.created_at)
    ).all()
