"""The Credits page: the balance, a low-balance notice, the ledger page by page, its CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from image2ad.credits import ledger, service
from image2ad.deps import RuntimeDep
from image2ad.web.deps import PageUser
from image2ad.web.render import render

router = APIRouter(include_in_schema=False)
PATH = "/credits"
PAGE_SIZE = 25


@router.get(PATH)
def credits_page(
    request: Request,
    user: PageUser,
    rt: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    with rt.db.session(read_only=True) as session:
        lines = ledger.page(session, user.id, cursor=cursor or None, limit=PAGE_SIZE)
    return render(
        request,
        "credits.html",
        user=user,
        lines=lines.items,
        low=service.is_low(user.credits, rt.settings.credits_low_threshold),
        next_url=f"{PATH}?cursor={lines.next_cursor}" if lines.next_cursor else None,
        first_page=not cursor,
        active="credits",
    )
