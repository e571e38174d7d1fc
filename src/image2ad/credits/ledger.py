"""Reading the credit ledger: pages of lines, newest first, in the words people read.

The stored kinds are grant, charge, refund and adjustment; the API speaks of grant, signup,
charge and refund (design.md). The sign-up grant is `signup`, and an adjustment is shown as a
`grant` with its signed amount, so every stored entry is one line and the amounts always sum
to the balance.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.catalog import GenerationType
from image2ad.credits import repository
from image2ad.credits.schemas import LedgerEntryOut, LedgerKind, LedgerPage
from image2ad.errors import InvalidInput
from image2ad.models import CreditKind

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# The note auth.service.create_user gives a new account's free credits.
SIGNUP_NOTE = "signup"
REASON_PROMPT_CHARS = 60
# Notes the server itself writes, in words; any other note is shown as written.
GRANT_REASONS = {"grant": "Credits added", "cli grant": "Credits added by the operator"}
REFUND_REASONS = {
    "model_unavailable": "The model was not available",
    "deadline_exceeded": "The model took too long",
    "provider_rejected_input": "The model turned the request down",
    "provider_failed_400": "The model turned the request down",
    "provider_failed_422": "The model turned the request down",
    "provider_no_result": "The model returned no result",
    "result_unavailable": "The result could not be saved",
    "failed_by_operator": "Stopped by the operator",
}
REFUND_DEFAULT = "The generation failed"


def decode_cursor(cursor: str) -> int:
    # An entry id: ASCII digits, short enough for any database's 64-bit integer.
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
        raise InvalidInput("cursor is not valid.", field="cursor")
    return int(cursor)


def page(session: Session, user_id: str, *, cursor: str | None, limit: int) -> LedgerPage:
    """The user's lines older than `cursor`, newest first, each with the balance after it."""
    rows = repository.ledger_rows(
        session,
        user_id,
        before_id=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    shown = rows[:limit]
    items: list[LedgerEntryOut] = []
    balance = int(shown[0].balance_through) if shown else 0
    for row in shown:
        items.append(line(row, balance))
        balance -= row.amount
    next_cursor = str(shown[-1].id) if len(rows) > limit else None
    return LedgerPage(items=items, next_cursor=next_cursor)


def line(row: sa.Row[Any], balance_after: int) -> LedgerEntryOut:
    return LedgerEntryOut(
        id=row.id,
        kind=kind_of(row.kind, row.note),
        amount=row.amount,
        job_id=row.job_id,
        reason=reason(row),
        created_at=row.created_at,
        balance_after=balance_after,
        job_type=row.job_type,
        job_prompt=row.job_prompt,
        job_deleted=row.job_deleted_at is not None,
    )


def kind_of(stored: str, note: str) -> LedgerKind:
    if stored == CreditKind.CHARGE:
        return "charge"
    if stored == CreditKind.REFUND:
        return "refund"
    if stored == CreditKind.GRANT and note == SIGNUP_NOTE:
        return "signup"
    return "grant"


def reason(row: sa.Row[Any]) -> str:
    if row.kind == CreditKind.CHARGE:
        return f"{type_label(row.job_type)}: {short(row.job_prompt or '')}"
    if row.kind == CreditKind.REFUND:
        return f"Refund: {refund_reason(row.job_error_code, row.job_error_message)}"
    if row.kind == CreditKind.GRANT and row.note == SIGNUP_NOTE:
        return "Sign-up bonus"
    note = str(row.note or "")
    if note:
        return GRANT_REASONS.get(note, note)
    return "Adjustment by the operator" if row.kind == CreditKind.ADJUSTMENT else "Credits added"


def refund_reason(code: str | None, message: str | None) -> str:
    if code == "canceled" and message:
        # The cancel's own words ("Canceled by you.", "Deleted while running."), first sentence.
        return message.split(". ", 1)[0].rstrip(".")
    if code == "canceled":
        return "Canceled"
    return REFUND_REASONS.get(code or "", REFUND_DEFAULT)


def type_label(job_type: str | None) -> str:
    try:
        return GenerationType(job_type or "").label
    except ValueError:
        return "Generation"


def short(text: str, limit: int = REASON_PROMPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
