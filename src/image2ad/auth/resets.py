"""One-time password reset links: the link carries a random token, the table only its hash.

Redeeming one sets the new password, spends every outstanding link of that user and logs out
every browser, all in one transaction.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.auth.passwords import hash_password
from image2ad.auth.service import MIN_PASSWORD_LENGTH
from image2ad.auth.session_store import token_hash
from image2ad.db import Database
from image2ad.errors import InvalidInput
from image2ad.models import PasswordReset, User, WebSession
from image2ad.models.base import utcnow

DEFAULT_TTL = timedelta(minutes=60)
# The sign-up rule (web/accounts.py): Argon2 would hash anything, but not megabytes per request.
MAX_PASSWORD_LENGTH = 1024
SPENT = "This reset link has expired or was already used. Ask for a new one."


def link(public_url: str, token: str) -> str:
    """The page that redeems `token`, on the site's configured address.

    Never built from a request's Host header: a stranger could point an emailed link at their site.
    """
    return f"{public_url}/reset-password?token={token}"


def issue(session: Session, user: User, ttl: timedelta = DEFAULT_TTL) -> str:
    """Store a new reset token for `user` and return it (the only time it is seen)."""
    now = utcnow()
    # This user's dead rows go as a new one arrives, so the table stays the size of live links.
    session.execute(
        sa.delete(PasswordReset).where(
            PasswordReset.user_id == user.id,
            sa.or_(PasswordReset.expires_at <= now, PasswordReset.used_at.is_not(None)),
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            user_id=user.id, token_hash=token_hash(token), created_at=now, expires_at=now + ttl
        )
    )
    session.flush()
    return token


def _live(token: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        PasswordReset.token_hash == token_hash(token),
        PasswordReset.used_at.is_(None),
        PasswordReset.expires_at > utcnow(),
    )


def is_live(db: Database, token: str) -> bool:
    with db.session(read_only=True) as session:
        return session.scalar(sa.select(PasswordReset.id).where(_live(token))) is not None


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Use a password of at most {MAX_PASSWORD_LENGTH} characters.", field="password"
        )


def redeem(db: Database, token: str, new_password: str) -> None:
    """Set the password a live token allows; the token, the user's other links and sessions end.

    Raises InvalidInput for a bad password (the link stays usable) or a spent link.
    """
    check_new_password(new_password)
    # Argon2 takes a while: hashed before the transaction, which on SQLite holds the write lock.
    password_hash = hash_password(new_password)
    with db.session() as session:
        row = session.execute(
            sa.select(PasswordReset.id, PasswordReset.user_id).where(_live(token))
        ).first()
        if row is None:
            raise InvalidInput(SPENT, field="token")
        reset_id, user_id = row
        now = utcnow()
        # Conditional on still being unused: of two concurrent redeems, one updates no row.
        claimed = session.execute(
            sa.update(PasswordReset)
            .where(PasswordReset.id == reset_id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            raise InvalidInput(SPENT, field="token")
        session.execute(
            sa.update(User).where(User.id == user_id).values(password_hash=password_hash)
        )
        session.execute(
            sa.update(PasswordReset)
            .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        session.execute(
            sa.update(WebSession)
            .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
