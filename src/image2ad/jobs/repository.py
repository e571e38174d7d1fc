"""Every query on jobs. State changes are guarded UPDATEs so races resolve in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.jobs.status import ACTIVE, JobStage, JobStatus, sources_of
from image2ad.models import IdempotencyKey, Job, UsageEvent


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def get_owned(session: Session, job_id: str, user_id: str) -> Job | None:
    return session.scalar(
        sa.select(Job).where(Job.id == job_id, Job.user_id == user_id, Job.deleted_at.is_(None))
    )


def transition(session: Session, job_id: str, target: JobStatus, **values: Any) -> bool:
    """Move a job to `target` only from an allowed status; False when another writer won."""
    result = session.execute(
        sa.update(Job)
        .where(Job.id == job_id, Job.status.in_(sources_of(target)))
        .values(status=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def update_active(session: Session, job_id: str, **values: Any) -> bool:
    """Change fields of a job that is not terminal yet."""
    result = session.execute(
        sa.update(Job)
        .where(Job.id == job_id, Job.status.in_([s.value for s in ACTIVE]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def claim_check(session: Session, job_id: str, seen_next: datetime, lease_until: datetime) -> bool:
    """Take a due job for one check; another process that saw the same row loses the race."""
    result = session.execute(
        sa.update(Job)
        .where(Job.id == job_id, Job.next_check_at == seen_next)
        .values(next_check_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def due_jobs(session: Session, now: datetime, limit: int) -> list[Job]:
    return list(
        session.scalars(
            sa.select(Job)
            .where(
                Job.status.in_([s.value for s in ACTIVE]),
                Job.next_check_at.is_not(None),
                Job.next_check_at <= now,
            )
            .order_by(Job.next_check_at)
            .limit(limit)
        )
    )


def overdue_jobs(session: Session, now: datetime, limit: int) -> list[Job]:
    return list(
        session.scalars(
            sa.select(Job)
            .where(Job.status.in_([s.value for s in ACTIVE]), Job.deadline_at <= now)
            .order_by(Job.deadline_at)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class JobFilter:
    """What a Library listing narrows to (None or False: no restriction)."""

    type_: str | None = None
    status: str | None = None
    query: str | None = None
    starred: bool = False


def _matching(user_id: str, filters: JobFilter) -> sa.Select[Job]:
    stmt = sa.select(Job).where(Job.user_id == user_id, Job.deleted_at.is_(None))
    if filters.type_:
        stmt = stmt.where(Job.type == filters.type_)
    if filters.status:
        stmt = stmt.where(Job.status == filters.status)
    if filters.query:
        escaped = (
            filters.query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        stmt = stmt.where(sa.func.lower(Job.prompt).like(f"%{escaped}%", escape="\\"))
    if filters.starred:
        stmt = stmt.where(Job.starred_at.is_not(None))
    return stmt


def list_for_user(
    session: Session,
    user_id: str,
    filters: JobFilter,
    *,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Job]:
    stmt = _matching(user_id, filters)
    if before is not None:
        created, job_id = before
        stmt = stmt.where(
            sa.or_(Job.created_at < created, sa.and_(Job.created_at == created, Job.id < job_id))
        )
    stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def count_for_user(session: Session, user_id: str, filters: JobFilter) -> int:
    matching = _matching(user_id, filters).subquery()
    return int(session.scalar(sa.select(sa.func.count()).select_from(matching)) or 0)


def children_of(session: Session, job_id: str, user_id: str, limit: int) -> list[Job]:
    """The user's visible jobs made from this job's result, newest first."""
    return list(
        session.scalars(
            sa.select(Job)
            .where(Job.parent_job_id == job_id, Job.user_id == user_id, Job.deleted_at.is_(None))
            .order_by(Job.created_at.desc())
            .limit(limit)
        )
    )


def set_starred(session: Session, job_id: str, when: datetime | None) -> None:
    """Star a job at `when` (keeping an earlier star) or, with None, unstar it."""
    stmt = sa.update(Job).where(Job.id == job_id)
    if when is not None:
        stmt = stmt.where(Job.starred_at.is_(None))
    session.execute(stmt.values(starred_at=when).execution_options(synchronize_session=False))


def unfinished_for_user(session: Session, user_id: str, limit: int) -> list[Job]:
    """The user's pending and processing jobs, oldest first (the order they go out in)."""
    return list(
        session.scalars(
            sa.select(Job)
            .where(
                Job.user_id == user_id,
                Job.deleted_at.is_(None),
                Job.status.in_(("pending", "processing")),
            )
            .order_by(Job.created_at, Job.id)
            .limit(limit)
        )
    )


def get_idempotency(session: Session, user_id: str, key: str) -> IdempotencyKey | None:
    return session.scalar(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
        )
    )


def delete_idempotency(session: Session, row_id: int) -> None:
    session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


def purge_expired_idempotency(session: Session, now: datetime) -> int:
    result = session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


def add_usage_event(session: Session, event: UsageEvent) -> None:
    session.add(event)


def mark_deleted(session: Session, job_id: str, when: datetime) -> None:
    session.execute(
        sa.update(Job)
        .where(Job.id == job_id)
        .values(deleted_at=when, result_path=None, poster_path=None, updated_at=when)
        .execution_options(synchronize_session=False)
    )


def claim_send(session: Session, job_id: str, attempt: int) -> bool:
    """Record that createTask goes out for `attempt`; False if it may have gone out already."""
    result = session.execute(
        sa.update(Job)
        .where(
            Job.id == job_id,
            sa.or_(Job.create_sent_attempt.is_(None), Job.create_sent_attempt < attempt),
        )
        .values(create_sent_attempt=attempt)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def count_active(session: Session, user_id: str) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Job)
            .where(Job.user_id == user_id, Job.status.in_([s.value for s in ACTIVE]))
        )
        or 0
    )


def adopt_task(
    session: Session, job_id: str, task_id: str, now: datetime, *, attempt: int | None = None
) -> bool:
    """Attach an orphan task, only while the job still waits on its uncertain submission.

    A job already sent back to the queue for a new attempt keeps that attempt's task instead:
    a task tagged with an earlier attempt is not adopted (untagged tasks predate the tags).
    """
    conditions = [
        Job.id == job_id,
        Job.status == JobStatus.PROCESSING.value,
        Job.task_id.is_(None),
    ]
    if attempt is not None:
        conditions.append(Job.submit_attempts == attempt)
    result = session.execute(
        sa.update(Job)
        .where(*conditions)
        .values(
            task_id=task_id,
            stage=JobStage.WAITING.value,
            submitted_at=now,
            next_check_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
