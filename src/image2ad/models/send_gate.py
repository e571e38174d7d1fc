from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime


class SendGate(Base):
    """The next free moment for a rate-limited provider call, shared by every process.

    Each process reserves its send time here (providers/kie/send_gate.py), so the calls of all
    workers together leave evenly spaced, however their workflows happen to be scheduled.
    """

    __tablename__ = "send_gates"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
