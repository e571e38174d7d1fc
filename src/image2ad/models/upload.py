from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, new_id, utcnow


class Upload(Base):
    """A reference image, re-encoded and stripped of metadata; private to its owner."""

    __tablename__ = "uploads"
    __table_args__ = (sa.Index("ix_uploads_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(sa.String(512), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    size: Mapped[int] = mapped_column(sa.Integer)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    # Display only; never used to build a path.
    original_name: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
