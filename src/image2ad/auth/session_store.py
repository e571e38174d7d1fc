"""Server-side web sessions: the cookie carries a random token, the table only its hash.

Logging out revokes the row, so a copy of the cookie taken earlier stops working too.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.db import Database
from image2ad.models import User, WebSession
from image2ad.models.base import utcnow

# Recording last use at most this often keeps a page view a single read.
TOUCH_EVERY_S = 300


@dataclass(frozen=True)
class Opened:
    record_id: str
    token: str


@dataclass(frozen=True)
class Found:
    record_id: str
    user: User


def token_hash(token: str) -> str:
    # Tokens are 256-bit random, so a fast hash is enough (as for API keys).
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    db: Database, user_id: str, *, max_age_s: int, user_agent: str = "", client_address: str = ""
) -> Opened:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as session:
        # This user's dead rows go as a new one arrives, so the table stays the size of the
        # live sessions.
        session.execute(
            sa.delete(WebSession).where(
                WebSession.user_id == user_id,
                sa.or_(WebSession.expires_at <= now, WebSession.revoked_at.is_not(None)),
            )
        )
        record = WebSession(
            user_id=user_id,
            token_hash=token_hash(token),
            user_agent=user_agent[:200],
            client_address=client_address[:64],
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=max_age_s),
        )
        session.add(record)
        session.flush()
        return Opened(record_id=record.id, token=token)


def find(db: Database, token: str) -> Found | None:
    """The live session a token names and its user; records use at most every TOUCH_EVERY_S."""
    now = utcnow()
    with db.session(read_only=True) as session:
        row = session.execute(
            sa.select(WebSession.id, WebSession.last_used_at, User)
            .join(User, User.id == WebSession.user_id)
            .where(
                WebSession.token_hash == token_hash(token),
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
                User.disabled_at.is_(None),
            )
        ).first()
    if row is None:
        return None
    record_id, last_used_at, user = row
    if (now - last_used_at).total_seconds() >= TOUCH_EVERY_S:
        with db.session() as session:
            session.execute(
                sa.update(WebSession).where(WebSession.id == record_id).values(last_used_at=now)
            )
    return Found(record_id=record_id, user=user)


def live_sessions(session: Session, user_id: str) -> list[WebSession]:
    return list(
        session.scalars(
            sa.select(WebSession)
            .where(
                WebSession.user_id == user_id,
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > utcnow(),
            )
            .order_by(WebSession.last_used_at.desc())
        )
    )


def revoke(db: Database, user_id: str, record_id: str | None = None) -> int:
    """Revoke one of the user's sessions, or all of them when `record_id` is None."""
    query = sa.update(WebSession).where(
        WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
    )
    if record_id is not None:
        query = query.where(WebSession.id == record_id)
    with db.session() as session:
        result = session.execute(query.values(revoked_at=utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
