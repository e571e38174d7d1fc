from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, new_id, utcnow


class Pack(Base):
    """One brief made for several placements and variants: a group of jobs (`jobs.pack_id`)."""

    __tablename__ = "packs"
    __table_args__ = (sa.Index("ix_packs_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(sa.String(32))
    prompt: Mapped[str] = mapped_column(sa.Text)
    model: Mapped[str] = mapped_column(sa.String(100))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    placements: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    variants: Mapped[int] = mapped_column(sa.Integer, default=1)
    source_upload_id: Mapped[str | None] = mapped_column(sa.String(36))
    # The finished job whose result is the pack's reference image (no FK: jobs point here).
    source_job_id: Mapped[str | None] = mapped_column(sa.String(36))
    credits_charged: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
