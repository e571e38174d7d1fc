from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, utcnow


class UsageEvent(Base):
    """One row per finished job, for billing reports and provider reconciliation."""

    __tablename__ = "usage_events"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str] = mapped_column(sa.String(100))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    credits: Mapped[int] = mapped_column(sa.Integer)
    duration_ms: Mapped[int] = mapped_column(sa.BigInteger)
    provider_task_id: Mapped[str | None] = mapped_column(sa.String(128))
    provider_credits_consumed: Mapped[float | None] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
