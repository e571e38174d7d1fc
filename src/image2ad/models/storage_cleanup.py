from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, utcnow


class StorageCleanup(Base):
    """An object to delete that storage refused to delete when asked (storage/cleanup.py).

    A failed cleanup must never decide a job's outcome: the job ends as it should, and the
    janitor deletes the object once storage answers again.
    """

    __tablename__ = "storage_cleanups"

    key: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
