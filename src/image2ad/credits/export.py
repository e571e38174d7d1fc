"""The whole ledger as CSV (`GET /credits/ledger.csv`), written while it streams.

Pages of the ledger are read one at a time, each in its own short read, so memory stays flat
however long the ledger is and no read transaction is held while the client downloads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from image2ad.credits import ledger
from image2ad.credits.schemas import LedgerEntryOut
from image2ad.db import Database
from image2ad.models.base import utcnow

PAGE_SIZE = 500
COLUMNS = ("date", "kind", "amount", "reason", "job_id", "balance_after")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def file_name(today: datetime | None = None) -> str:
    return f"image2ad-credits-{(today or utcnow()):%Y-%m-%d}.csv"


def guarded(text: str) -> str:
    """Text a spreadsheet shows as text: a leading `'` before a formula's first character."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def row(entry: LedgerEntryOut) -> list[str | int]:
    # Numbers stay numbers (a negative amount is not a formula); only text is guarded.
    return [
        entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        entry.kind,
        entry.amount,
        guarded(entry.reason),
        guarded(entry.job_id or ""),
        entry.balance_after,
    ]


def lines(db: Database, user_id: str, page_size: int = PAGE_SIZE) -> Iterator[str]:
    """The CSV text, the header first, then one chunk per page of the ledger, newest first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    cursor: str | None = None
    while True:
        with db.session(read_only=True) as session:
            page = ledger.page(session, user_id, cursor=cursor, limit=page_size)
        writer.writerows(row(entry) for entry in page.items)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        cursor = page.next_cursor
        if cursor is None:
            return
