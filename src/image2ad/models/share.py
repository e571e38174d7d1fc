from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, new_id, utcnow


class Share(Base):
    """A public, expiring link to one job or one pack. The URL holds a random token; only its
    SHA-256 is here."""

    __tablename__ = "shares"
    __table_args__ = (
        sa.Index("ix_shares_user_created", "user_id", "created_at"),
        sa.CheckConstraint("(job_id IS NULL) <> (pack_id IS NULL)", name="one_target"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    pack_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("packs.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
