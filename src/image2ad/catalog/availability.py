"""Which models Kie runs now. A create refused as paused, unknown, under maintenance or
disabled marks the Kie model unavailable for every process (table model_statuses); the sweeper
probes it again (`probe`) and clears the mark when the model is back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from image2ad.catalog.catalog import Catalog
from image2ad.catalog.spec import ModelSpec
from image2ad.models import ModelStatus
from image2ad.models.base import utcnow

KIND_TEXT = {
    "paused": "paused at Kie",
    "unknown": "no longer offered by Kie",
    "maintenance": "under maintenance at Kie",
    "disabled": "switched off at Kie",
}


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str | None = None
    kind: str | None = None


Statuses = dict[str, ModelStatus]


def statuses(session: Session) -> Statuses:
    return {row.provider_model: row for row in session.scalars(sa.select(ModelStatus))}


def of(spec: ModelSpec, known: Statuses) -> Availability:
    if spec.withdrawn:
        return Availability(False, f"{spec.label} is withdrawn: {spec.withdrawn}", "withdrawn")
    row = known.get(spec.provider_model)
    if row is None:
        return Availability(True)
    since = row.since.strftime("%d %b %Y %H:%M UTC")
    return Availability(False, f"{spec.label} is {KIND_TEXT[row.kind]} (since {since}).", row.kind)


def mark_unavailable(
    session: Session, spec: ModelSpec, kind: str, detail: str, recheck: timedelta
) -> None:
    """Record (or refresh) that Kie refused `spec`'s model; idempotent under races."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "provider_model": spec.provider_model,
        "api": spec.api,
        "kind": kind,
        "reason": detail[:300],
        "since": now,
        "checked_at": now,
        "next_check_at": now + recheck,
    }
    statement = insert(ModelStatus).values(**values)
    changed = {k: statement.excluded[k] for k in ("kind", "reason", "checked_at", "next_check_at")}
    session.execute(
        statement.on_conflict_do_update(index_elements=["provider_model"], set_=changed)
    )


def mark_available(session: Session, provider_model: str) -> None:
    session.execute(sa.delete(ModelStatus).where(ModelStatus.provider_model == provider_model))


def still_unavailable(session: Session, provider_model: str, recheck: timedelta) -> None:
    now = utcnow()
    session.execute(
        sa.update(ModelStatus)
        .where(ModelStatus.provider_model == provider_model)
        .values(checked_at=now, next_check_at=now + recheck)
    )


def due(session: Session, now: datetime, lease: timedelta) -> list[ModelStatus]:
    """Marks whose re-check is due, each claimed for `lease` so one process probes it."""
    rows = list(
        session.scalars(
            sa.select(ModelStatus).where(ModelStatus.next_check_at <= now).with_for_update()
        )
    )
    for row in rows:
        row.next_check_at = now + lease
    return rows


def instead(catalog: Catalog, spec: ModelSpec, known: Statuses) -> ModelSpec | None:
    """What to use instead of `spec`: its fallback, the type's default, else the cheapest
    model of the type that runs now."""
    fallback = catalog.find(spec.type.value, spec.fallback) if spec.fallback else None
    candidates = [fallback] if fallback else []
    candidates.append(catalog.default(spec.type))
    candidates += sorted(catalog.models(spec.type), key=catalog.default_price)
    for other in candidates:
        if other is not None and other.id != spec.id and of(other, known).available:
            return other
    return None
