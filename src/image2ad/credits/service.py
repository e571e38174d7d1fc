"""Credit rules: an append-only ledger with a cached balance, changed in one transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from image2ad.credits import repository
from image2ad.dbutil import insert_ignore_conflict
from image2ad.errors import InsufficientCredits, InvalidInput
from image2ad.models import CreditEntry, CreditKind


def grant(session: Session, user_id: str, amount: int, note: str = "grant") -> None:
    if amount <= 0:
        raise InvalidInput("A grant must be a positive number of credits.")
    repository.add_entry(session, user_id=user_id, kind=CreditKind.GRANT, amount=amount, note=note)


def charge_for_job(session: Session, *, user_id: str, job_id: str, amount: int) -> None:
    """Charge a job once, before any provider call; 402 when the balance is short."""
    if not repository.take_credits(session, user_id, amount):
        raise InsufficientCredits(
            f"This generation costs {amount} credit(s); your balance is too low."
        )
    written = insert_ignore_conflict(
        session,
        CreditEntry.__table__,  # type: ignore[arg-type]
        {
            "user_id": user_id,
            "job_id": job_id,
            "kind": CreditKind.CHARGE.value,
            "amount": -amount,
            "note": "generation",
        },
    )
    if not written:
        raise RuntimeError(f"job {job_id} was already charged")


def refund_for_job(session: Session, *, user_id: str, job_id: str, amount: int) -> bool:
    """Return a job's credits at most once; False when the refund already exists."""
    return repository.add_entry(
        session,
        user_id=user_id,
        kind=CreditKind.REFUND,
        amount=amount,
        job_id=job_id,
        note="refund",
    )


def is_low(balance: int, threshold: int) -> bool:
    """Whether a balance is low enough to say so (IMAGE2AD_CREDITS_LOW_THRESHOLD; 0 = never)."""
    return balance < threshold
