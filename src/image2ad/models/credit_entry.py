from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, utcnow


class CreditKind(StrEnum):
    GRANT = "grant"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class CreditEntry(Base):
    """Append-only credit ledger. (job_id, kind) is unique: one charge, at most one refund."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "kind"),
        sa.CheckConstraint(
            "kind IN ('grant', 'charge', 'refund', 'adjustment')", name="kind_known"
        ),
        sa.CheckConstraint(
            "(kind = 'charge' AND amount < 0) OR (kind IN ('grant', 'refund') AND amount > 0)"
            " OR kind = 'adjustment'",
            name="amount_sign",
        ),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(sa.String(36))
    kind: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[int] = mapped_column(sa.Integer)
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
