"""What an admin changes about a user: credits (with a reason), sign-in, a reset link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.auth import resets
from image2ad.auth.session_store import token_hash
from image2ad.credits import repository as credits
from image2ad.errors import InvalidInput, NotFound
from image2ad.models import CreditEntry, CreditKind, PasswordReset, User, WebSession
from image2ad.models.base import utcnow

MAX_ADJUSTMENT = 1_000_000
REASON_CHARS = 200
SPANS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def require_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def adjust_credits(session: Session, user_id: str, amount: int, reason: str) -> User:
    """Add credits (a `grant`) or take them back (a negative `adjustment`), with the admin's
    reason as the ledger line; taking more than the balance is refused, nothing written."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("Give a reason: it is the line the user reads.", field="reason")
    if len(reason) > REASON_CHARS:
        raise InvalidInput(f"Keep the reason within {REASON_CHARS} characters.", field="reason")
    if amount == 0 or abs(amount) > MAX_ADJUSTMENT:
        raise InvalidInput(
            f"Give a number of credits from 1 to {MAX_ADJUSTMENT:,}, negative to take back.",
            field="amount",
        )
    user = require_user(session, user_id)
    if amount > 0:
        credits.add_entry(
            session, user_id=user_id, kind=CreditKind.GRANT, amount=amount, note=reason
        )
    else:
        # The conditional update holds the row, so a charge racing this cannot go below zero.
        if not credits.take_credits(session, user_id, -amount):
            session.refresh(user)
            raise InvalidInput(
                f"The balance is {user.credits}: at most {user.credits} can be taken back.",
                field="amount",
            )
        session.add(
            CreditEntry(
                user_id=user_id, kind=CreditKind.ADJUSTMENT.value, amount=amount, note=reason
            )
        )
    session.flush()
    session.refresh(user)
    return user


def set_disabled(session: Session, user_id: str, disabled: bool) -> User:
    """Disable (ending every browser session; API keys stop working while it lasts) or enable."""
    user = require_user(session, user_id)
    if disabled and user.disabled_at is None:
        now = utcnow()
        user.disabled_at = now
        session.execute(
            sa.update(WebSession)
            .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    elif not disabled:
        user.disabled_at = None
    session.flush()
    return user


def password_reset(session: Session, user_id: str, public_url: str) -> tuple[str, datetime]:
    """A one-time reset link for the user (as `image2ad users reset-password` prints) and when
    it expires."""
    user = require_user(session, user_id)
    token = resets.issue(session, user)
    expires_at = session.scalar(
        sa.select(PasswordReset.expires_at).where(PasswordReset.token_hash == token_hash(token))
    )
    assert expires_at is not None  # issued in the same unit
    return resets.link(public_url, token), expires_at


def since(span: str, now: datetime | None = None) -> datetime:
    """The start of a `1d`, `7d` or `30d` window ending now."""
    if span not in SPANS:
        raise InvalidInput("since is one of 1d, 7d, 30d.", field="since")
    return (now or datetime.now(UTC)) - SPANS[span]
