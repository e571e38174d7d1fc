from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, new_id, utcnow


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("credits >= 0", name="credits_not_negative"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # A cache of sum(credit_entries.amount), updated in the same transaction as each entry.
    credits: Mapped[int] = mapped_column(sa.Integer, default=0)
    is_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Set by an admin: the account cannot log in or use its API keys until it is cleared.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
