"""Every webhook query."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from image2ad.webhooks.schemas import DeliveryState


def endpoints_of(session: Session, user_id: str) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.user_id == user_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )


def subscribed(session: Session, user_id: str, event_type: str) -> list[WebhookEndpoint]:
    """The user's enabled endpoints that take `event_type` (a user has at most a few)."""
    rows = session.scalars(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.user_id == user_id, WebhookEndpoint.disabled_at.is_(None)
        )
    )
    return [row for row in rows if event_type in row.events]


def owned_endpoint(session: Session, user_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    return session.scalar(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.user_id == user_id
        )
    )


def count_endpoints(session: Session, user_id: str) -> int:
    count = session.scalar(sa.select(sa.func.count()).where(WebhookEndpoint.user_id == user_id))
    return int(count or 0)


def deliveries_of(
    session: Session, endpoint_id: str, limit: int
) -> list[tuple[WebhookDelivery, str]]:
    """The endpoint's newest deliveries, each with its event's type."""
    rows = session.execute(
        sa.select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [(delivery, str(kind)) for delivery, kind in rows]


def delivery_of_endpoint(
    session: Session, endpoint_id: str, delivery_id: str
) -> WebhookDelivery | None:
    return session.scalar(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )


def delivery_parts(
    session: Session, delivery_id: str
) -> tuple[WebhookDelivery, WebhookEndpoint, WebhookEvent] | None:
    row = session.execute(
        sa.select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def due_for_start(session: Session, now: datetime, stale: datetime, limit: int) -> list[Any]:
    """Pending deliveries no workflow took yet, or whose attempt is long overdue."""
    return list(
        session.execute(
            sa.select(WebhookDelivery.id, WebhookDelivery.workflow_attempt)
            .where(
                WebhookDelivery.state == DeliveryState.PENDING.value,
                WebhookDelivery.next_attempt_at <= now,
                sa.or_(
                    WebhookDelivery.enqueued_at.is_(None), WebhookDelivery.next_attempt_at < stale
                ),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )


def mark_enqueued(session: Session, delivery_id: str, now: datetime) -> None:
    session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.enqueued_at.is_(None))
        .values(enqueued_at=now)
    )


def claim_workflow_attempt(session: Session, delivery_id: str, seen: int) -> bool:
    """Move the delivery to its next workflow attempt; False if another process did."""
    result = session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.workflow_attempt == seen,
            WebhookDelivery.state == DeliveryState.PENDING.value,
        )
        .values(workflow_attempt=seen + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def update_pending(session: Session, delivery_id: str, **values: Any) -> bool:
    """Change a delivery that is still pending; False when it already ended."""
    result = session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state == DeliveryState.PENDING.value,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def disable_endpoint(session: Session, endpoint_id: str, reason: str, now: datetime) -> None:
    session.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason[:300])
        .execution_options(synchronize_session=False)
    )


def note_success(session: Session, endpoint_id: str, now: datetime) -> None:
    session.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(last_success_at=now)
        .execution_options(synchronize_session=False)
    )


def purge_ended(session: Session, before: datetime) -> None:
    """Retention: deliveries that ended before `before`, then events nothing refers to."""
    session.execute(
        sa.delete(WebhookDelivery).where(
            WebhookDelivery.state != DeliveryState.PENDING.value,
            WebhookDelivery.created_at < before,
        )
    )
    session.execute(
        sa.delete(WebhookEvent).where(
            WebhookEvent.created_at < before,
            ~sa.exists().where(WebhookDelivery.event_id == WebhookEvent.id),
        )
    )
