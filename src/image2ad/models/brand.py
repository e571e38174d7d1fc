from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, new_id, utcnow


class BrandKit(Base):
    """A user's brand layer defaults: logo, colours, font, headline and call to action."""

    __tablename__ = "brand_kits"

    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    logo_upload_id: Mapped[str | None] = mapped_column(sa.String(36))
    colors: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    font: Mapped[str | None] = mapped_column(sa.String(40))
    headline: Mapped[str | None] = mapped_column(sa.String(200))
    cta: Mapped[str | None] = mapped_column(sa.String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Rendition(Base):
    """A finished image with the brand layer composited on it; the original is never touched."""

    __tablename__ = "renditions"
    __table_args__ = (sa.Index("ix_renditions_job_created", "job_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(sa.String(512), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    size: Mapped[int] = mapped_column(sa.Integer)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    headline: Mapped[str | None] = mapped_column(sa.String(200))
    cta: Mapped[str | None] = mapped_column(sa.String(60))
    logo: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    placement: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
