from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from image2ad.dbutil import insert_ignore_conflict
from image2ad.models import CreditEntry, CreditKind, Job, User

# Enough of a prompt or failure message for a ledger line; the job page has the rest.
PROMPT_CHARS = 200


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


def ledger_rows(
    session: Session, user_id: str, *, before_id: int | None, limit: int
) -> list[sa.Row[Any]]:
    """A page of the user's entries, newest first, each with its job (if any) and
    `balance_through`: the sum of every entry up to the page's first one.

    The sum is a subquery of the same statement, so it and the page come from one snapshot: an
    entry that commits meanwhile is in both or in neither.
    """
    earlier = aliased(CreditEntry)
    upto = [earlier.user_id == user_id]
    page = [CreditEntry.user_id == user_id]
    if before_id is not None:
        upto.append(earlier.id < before_id)
        page.append(CreditEntry.id < before_id)
    balance = sa.select(sa.func.coalesce(sa.func.sum(earlier.amount), 0)).where(*upto)
    return list(
        session.execute(
            sa.select(
                CreditEntry.id,
                CreditEntry.kind,
                CreditEntry.amount,
                CreditEntry.note,
                CreditEntry.job_id,
                CreditEntry.created_at,
                Job.type.label("job_type"),
                sa.func.substr(Job.prompt, 1, PROMPT_CHARS).label("job_prompt"),
                Job.deleted_at.label("job_deleted_at"),
                Job.error_code.label("job_error_code"),
                sa.func.substr(Job.error_message, 1, PROMPT_CHARS).label("job_error_message"),
                balance.scalar_subquery().label("balance_through"),
            )
            .outerjoin(Job, sa.and_(Job.id == CreditEntry.job_id, Job.user_id == user_id))
            .where(*page)
            .order_by(CreditEntry.id.desc())
            .limit(limit)
        )
    )
