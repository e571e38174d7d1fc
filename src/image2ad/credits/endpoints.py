"""HTTP for the credit ledger: pages of it as JSON, or all of it as CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from image2ad.credits import export, ledger
from image2ad.credits.schemas import LedgerPage
from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS
from image2ad.storage.serving import FILE_HEADERS
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1", tags=["credits"], dependencies=[Depends(limit_api)], responses=COMMON_ERRORS
)


@router.get("/credits/ledger", response_model=LedgerPage)
def credit_ledger(
    user: CurrentUser,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=ledger.MAX_LIMIT)] = ledger.DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the page before")
    ] = None,
) -> LedgerPage:
    """Every change to your credits, newest first: the amounts of all lines sum to your balance
    (`/me` `credits`), also after jobs or packs are deleted (their lines stay, with
    `job_deleted`). Kinds: `signup` (the free credits of a new account), `grant` (credits added
    by whoever runs image2ad; an adjustment they make is a `grant` too, and may be negative),
    `charge` (a job's cost, negative) and `refund` (a job's cost returned). `balance_after` is
    the sum of a line and every older one."""
    with rt.db.session(read_only=True) as session:
        return ledger.page(session, user.id, cursor=cursor, limit=limit)


@router.get(
    "/credits/ledger.csv",
    response_class=Response,
    responses={
        200: {
            "description": "The ledger as CSV, streamed as it is written",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def credit_ledger_csv(user: CurrentUser, rt: RuntimeDep) -> Response:
    """Your whole ledger as CSV, newest first: `date` (ISO 8601, UTC), `kind`, `amount`,
    `reason`, `job_id`, `balance_after`. A text cell that a spreadsheet would run as a formula
    (starting with `=`, `+`, `-` or `@`) starts with `'`."""
    return StreamingResponse(
        export.lines(rt.db, user.id),
        media_type="text/csv; charset=utf-8",
        headers={
            **FILE_HEADERS,
            "Content-Disposition": f'attachment; filename="{export.file_name()}"',
            "Cache-Control": "private, no-store",
        },
    )
