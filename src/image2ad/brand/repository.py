"""Every query on brand kits and renditions."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.models import BrandKit, Rendition


def get_kit(session: Session, user_id: str) -> BrandKit | None:
    return session.get(BrandKit, user_id)


def add(session: Session, row: BrandKit | Rendition) -> None:
    session.add(row)
    session.flush()


def renditions_of(session: Session, job_id: str, user_id: str) -> list[Rendition]:
    return list(
        session.scalars(
            sa.select(Rendition)
            .where(Rendition.job_id == job_id, Rendition.user_id == user_id)
            .order_by(Rendition.created_at.desc(), Rendition.id.desc())
        )
    )


def count_of_job(session: Session, job_id: str) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count()).select_from(Rendition).where(Rendition.job_id == job_id)
        )
        or 0
    )


def get_rendition(
    session: Session, rendition_id: str, job_id: str, user_id: str
) -> Rendition | None:
    return session.scalar(
        sa.select(Rendition).where(
            Rendition.id == rendition_id, Rendition.job_id == job_id, Rendition.user_id == user_id
        )
    )


def keys_of_job(session: Session, job_id: str) -> list[tuple[str, str]]:
    """Every rendition file of a job: (storage key, content type)."""
    rows = session.execute(
        sa.select(Rendition.storage_key, Rendition.content_type).where(Rendition.job_id == job_id)
    )
    return [(key, content_type) for key, content_type in rows]


def delete(session: Session, rendition: Rendition) -> None:
    session.delete(rendition)
    session.flush()


def delete_of_job(session: Session, job_id: str) -> list[str]:
    """Forget a job's renditions; returns their storage keys for deleting."""
    keys = [key for key, _ in keys_of_job(session, job_id)]
    session.execute(sa.delete(Rendition).where(Rendition.job_id == job_id))
    return keys
