from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime


class ModelStatus(Base):
    """A Kie model that Kie refused to run (paused, unknown, maintenance, disabled), shared by
    every process; the row goes when a re-check finds the model back."""

    __tablename__ = "model_statuses"

    provider_model: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    api: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.String(300))
    since: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
