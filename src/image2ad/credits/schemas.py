from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

LedgerKind = Literal["grant", "signup", "charge", "refund"]


class LedgerEntryOut(BaseModel):
    """One line of the credit ledger."""

    id: int
    kind: LedgerKind = Field(
        description="signup: the free credits of a new account; grant: credits added by whoever "
        "runs image2ad, and any adjustment they make (its amount may be negative); charge: a "
        "job's cost; refund: a job's cost returned"
    )
    amount: int = Field(description="Signed: negative takes credits, positive adds them")
    job_id: str | None = Field(description="The job a charge or refund belongs to")
    reason: str = Field(description='In words, e.g. "Text to Image: <prompt…>", "Refund: …"')
    created_at: datetime
    balance_after: int = Field(
        description="The sum of this line and every older one: your balance as of this line"
    )
    job_type: str | None = Field(description="The job's type, for charge and refund lines")
    job_prompt: str | None = Field(
        description="The start of the job's prompt (at most 200 characters), also once deleted"
    )
    job_deleted: bool = Field(description="The job was deleted; its lines stay")


class LedgerPage(BaseModel):
    items: list[LedgerEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page")
