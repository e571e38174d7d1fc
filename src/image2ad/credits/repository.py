from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.dbutil import insert_ignore_conflict
from image2ad.models import CreditEntry, CreditKind, User


def add_entry(
    session: Session,
    *,
    user_id: str,
    kind: CreditKind,
    amount: int,
    job_id: str | None = None,
    note: str = "",
) -> bool:
    """Append a ledger entry and move the cached balance with it; False if it already existed."""
    written = insert_ignore_conflict(
        session,
        CreditEntry.__table__,  # type: ignore[arg-type]
        {"user_id": user_id, "job_id": job_id, "kind": kind.value, "amount": amount, "note": note},
    )
    if written:
        session.execute(
            sa.update(User).where(User.id == user_id).values(credits=User.credits + amount)
        )
    return written


def take_credits(session: Session, user_id: str, amount: int) -> bool:
    """Lower the balance only if it covers `amount` (the row lock serializes racing charges)."""
    result = session.execute(
        sa.update(User)
        .where(User.id == user_id, User.credits >= amount)
        .values(credits=User.credits - amount)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def ledger_sum(session: Session, user_id: str) -> int:
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditEntry.amount), 0)).where(
            CreditEntry.user_id == user_id
        )
    )
    return int(total or 0)


def entries_for_job(session: Session, job_id: str) -> list[CreditEntry]:
    return list(session.scalars(sa.select(CreditEntry).where(CreditEntry.job_id == job_id)))
