"""Every query of the admin console: users with their activity, all users' jobs, webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.models import ApiKey, Job, User, WebhookDelivery, WebhookEndpoint, WebSession

MAX_USERS = 50


def find_users(session: Session, email: str | None) -> list[User]:
    """Users whose email is or begins with `email` (any case), the exact one first, at most
    50; without it, the newest."""
    query = sa.select(User).limit(MAX_USERS)
    wanted = (email or "").strip().lower()
    if wanted:
        query = query.where(User.email.startswith(wanted, autoescape=True)).order_by(
            sa.case((User.email == wanted, 0), else_=1), User.email
        )
    else:
        query = query.order_by(User.created_at.desc(), User.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class Activity:
    jobs: int
    last_active_at: datetime | None


def activity(session: Session, user_ids: list[str]) -> dict[str, Activity]:
    """Per user: how many jobs they made, and the latest of their last job, last browser use and
    last API key use."""
    if not user_ids:
        return {}
    jobs = dict(
        (row.user_id, (row.n, row.last))
        for row in session.execute(
            sa.select(
                Job.user_id, sa.func.count().label("n"), sa.func.max(Job.created_at).label("last")
            )
            .where(Job.user_id.in_(user_ids))
            .group_by(Job.user_id)
        )
    )
    seen: dict[str, list[datetime]] = {user_id: [] for user_id in user_ids}
    for table_user, used in (
        (WebSession.user_id, WebSession.last_used_at),
        (ApiKey.user_id, ApiKey.last_used_at),
    ):
        for row in session.execute(
            sa.select(table_user, sa.func.max(used))
            .where(table_user.in_(user_ids))
            .group_by(table_user)
        ):
            if row[1] is not None:
                seen[row[0]].append(row[1])
    found: dict[str, Activity] = {}
    for user_id in user_ids:
        count, last_job = jobs.get(user_id, (0, None))
        times = seen[user_id] + ([last_job] if last_job is not None else [])
        found[user_id] = Activity(jobs=int(count), last_active_at=max(times) if times else None)
    return found


def recent_jobs(session: Session, user_id: str, limit: int) -> list[Job]:
    return list(
        session.scalars(
            sa.select(Job)
            .where(Job.user_id == user_id)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    type_: str | None = None
    model: str | None = None
    email: str | None = None
    since: datetime | None = None


def jobs(
    session: Session, filters: JobFilter, *, before: tuple[datetime, str] | None, limit: int
) -> list[tuple[Job, str]]:
    """Every user's jobs (deleted ones too), newest first, each with its user's email."""
    stmt = sa.select(Job, User.email).join(User, User.id == Job.user_id)
    if filters.status:
        stmt = stmt.where(Job.status == filters.status)
    if filters.type_:
        stmt = stmt.where(Job.type == filters.type_)
    if filters.model:
        stmt = stmt.where(Job.model == filters.model)
    if filters.email:
        stmt = stmt.where(User.email.startswith(filters.email.strip().lower(), autoescape=True))
    if filters.since is not None:
        stmt = stmt.where(Job.created_at >= filters.since)
    if before is not None:
        created, job_id = before
        stmt = stmt.where(
            sa.or_(Job.created_at < created, sa.and_(Job.created_at == created, Job.id < job_id))
        )
    stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return [(job, email) for job, email in session.execute(stmt)]


def job_with_email(session: Session, job_id: str) -> tuple[Job, str] | None:
    row = session.execute(
        sa.select(Job, User.email).join(User, User.id == Job.user_id).where(Job.id == job_id)
    ).first()
    return None if row is None else (row[0], row[1])


def job_models(session: Session) -> list[str]:
    return list(session.scalars(sa.select(Job.model).distinct().order_by(Job.model)))


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: WebhookEndpoint
    email: str
    delivered: int
    failed: int
    pending: int
    last_failure: str | None


def webhook_health(session: Session) -> list[EndpointHealth]:
    """Every webhook endpoint with its owner and its deliveries counted by state."""
    counts: dict[str, dict[str, int]] = {}
    for endpoint_id, state, n in session.execute(
        sa.select(WebhookDelivery.endpoint_id, WebhookDelivery.state, sa.func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.state
        )
    ):
        counts.setdefault(endpoint_id, {})[state] = int(n)
    last_error = (
        sa.select(WebhookDelivery.last_error)
        .where(
            WebhookDelivery.endpoint_id == WebhookEndpoint.id,
            WebhookDelivery.last_error.is_not(None),
        )
        .order_by(WebhookDelivery.created_at.desc())
        .limit(1)
    )
    rows = session.execute(
        sa.select(WebhookEndpoint, User.email, last_error.scalar_subquery())
        .join(User, User.id == WebhookEndpoint.user_id)
        .order_by(User.email, WebhookEndpoint.created_at)
    )
    return [
        EndpointHealth(
            endpoint=endpoint,
            email=email,
            delivered=counts.get(endpoint.id, {}).get("delivered", 0),
            failed=counts.get(endpoint.id, {}).get("failed", 0),
            pending=counts.get(endpoint.id, {}).get("pending", 0),
            last_failure=error,
        )
        for endpoint, email, error in rows
    ]
