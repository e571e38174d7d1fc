"""Every query on packs."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.models import Job, Pack


def get_owned(session: Session, pack_id: str, user_id: str) -> Pack | None:
    return session.scalar(
        sa.select(Pack).where(
            Pack.id == pack_id, Pack.user_id == user_id, Pack.deleted_at.is_(None)
        )
    )


def jobs_of(session: Session, pack_ids: list[str]) -> list[Job]:
    """The packs' visible jobs (a job deleted on its own leaves its pack)."""
    if not pack_ids:
        return []
    return list(
        session.scalars(sa.select(Job).where(Job.pack_id.in_(pack_ids), Job.deleted_at.is_(None)))
    )


def list_for_user(
    session: Session, user_id: str, *, before: tuple[datetime, str] | None, limit: int
) -> list[Pack]:
    query = sa.select(Pack).where(Pack.user_id == user_id, Pack.deleted_at.is_(None))
    if before is not None:
        created, pack_id = before
        query = query.where(
            sa.or_(
                Pack.created_at < created,
                sa.and_(Pack.created_at == created, Pack.id < pack_id),
            )
        )
    return list(
        session.scalars(query.order_by(Pack.created_at.desc(), Pack.id.desc()).limit(limit))
    )


def mark_deleted(session: Session, pack_id: str, when: datetime) -> None:
    session.execute(
        sa.update(Pack)
        .where(Pack.id == pack_id, Pack.deleted_at.is_(None))
        .values(deleted_at=when)
        .execution_options(synchronize_session=False)
    )
