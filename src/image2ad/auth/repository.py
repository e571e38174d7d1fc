from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.models import ApiKey, User


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(sa.select(User).where(User.email == email.strip().lower()))


# Built once: building the statement and its cache key on every call was half the lookup's CPU
# (SQLAlchemy memoizes the cache key on the statement object).
_ACTIVE_KEY_AND_USER = (
    sa.select(ApiKey, User)
    .join(User, User.id == ApiKey.user_id)
    .where(
        ApiKey.key_hash == sa.bindparam("key_hash"),
        ApiKey.revoked_at.is_(None),
        User.disabled_at.is_(None),
    )
)


def get_active_key_and_user(session: Session, key_hash: str) -> tuple[ApiKey, User] | None:
    """One round trip: this runs on every API call."""
    row = session.execute(_ACTIVE_KEY_AND_USER, {"key_hash": key_hash}).first()
    return None if row is None else (row[0], row[1])


def list_keys(session: Session, user_id: str) -> list[ApiKey]:
    return list(
        session.scalars(
            sa.select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc())
        )
    )


def touch_key(session: Session, key_id: str, when: datetime) -> None:
    session.execute(sa.update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))
