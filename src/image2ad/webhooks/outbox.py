"""Events recorded in the transaction that makes them true (the outbox).

A job's end and its event commit together, so no crash can lose one or send one for a job
that did not end; the relay (relay.py) and the delivery workflow (delivery.py) take it from there.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.dbutil import insert_ignore_conflict
from image2ad.models import Job, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from image2ad.models.base import utcnow
from image2ad.webhooks import repository


def new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def job_ended(session: Session, job: Job, status: str) -> None:
    """Record `job.<status>` for every endpoint of the job's owner that takes it."""
    event_type = f"job.{status}"
    endpoints = repository.subscribed(session, job.user_id, event_type)
    if endpoints:
        _record(session, endpoints, user_id=job.user_id, type=event_type, job_id=job.id)


def credits_charged(session: Session, user_id: str, amount: int) -> None:
    """Record `credits.low` when this charge took the balance below
    IMAGE2AD_CREDITS_LOW_THRESHOLD."""
    threshold = _low_threshold()
    if threshold <= 0:
        return
    endpoints = repository.subscribed(session, user_id, "credits.low")
    if not endpoints:
        return
    balance = session.scalar(sa.select(User.credits).where(User.id == user_id))
    if balance is None or not balance < threshold <= balance + amount:
        return
    data = {"credits": int(balance), "threshold": threshold}
    _record(session, endpoints, user_id=user_id, type="credits.low", data=data)


def _low_threshold() -> int:
    # The setting lives in the process's runtime; charges made outside a started app (the CLI,
    # unit tests of services) have no subscriber worth a low-credit warning.
    from image2ad import runtime

    try:
        return runtime.current().settings.credits_low_threshold
    except RuntimeError:
        return 0


def _record(session: Session, endpoints: list[WebhookEndpoint], **event: Any) -> None:
    event_id = new_event_id()
    now = utcnow()
    table: sa.Table = WebhookEvent.__table__  # type: ignore[assignment]
    if not insert_ignore_conflict(session, table, {"id": event_id, "created_at": now, **event}):
        return
    for endpoint in endpoints:
        session.add(
            WebhookDelivery(event_id=event_id, endpoint_id=endpoint.id, next_attempt_at=now)
        )
    session.flush()
