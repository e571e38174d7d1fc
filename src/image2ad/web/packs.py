"""Ad pack pages: the list of packs, and one pack's grid (placements x variants)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from image2ad.deps import RuntimeDep
from image2ad.jobs.schemas import JobOut
from image2ad.models import User
from image2ad.packs import service as packs
from image2ad.packs.schemas import PackOut
from image2ad.placements import PLACEMENTS, Placement
from image2ad.runtime import Runtime
from image2ad.web.deps import PageUser
from image2ad.web.render import fragment, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 12


@dataclass(frozen=True)
class Row:
    """One placement of a pack's grid with its variants in order."""

    placement: Placement
    jobs: list[JobOut]

    @property
    def picked(self) -> JobOut | None:
        return next((j for j in self.jobs if j.starred), None)


def rows(pack: PackOut) -> list[Row]:
    return [
        Row(PLACEMENTS[p], [j for j in pack.jobs if j.placement == p])
        for p in pack.placements
        if p in PLACEMENTS
    ]


def _load(rt: Runtime, user: User, pack_id: str) -> PackOut:
    with rt.db.session(read_only=True) as session:
        return packs.show(session, user, pack_id, rt.signer)


@router.get("/packs")
def packs_page(
    request: Request,
    user: PageUser,
    rt: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    with rt.db.session(read_only=True) as session:
        items, next_cursor = packs.list_packs(
            session, user, rt.signer, cursor=cursor or None, limit=PAGE_SIZE
        )
    return render(
        request,
        "packs.html",
        user=user,
        packs=items,
        rows=rows,
        next_url=f"/packs?cursor={next_cursor}" if next_cursor else None,
        first_page=cursor is None,
        active="packs",
    )


@router.get("/packs/{pack_id}")
def pack_page(pack_id: str, request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    pack = _load(rt, user, pack_id)
    return render(
        request,
        "pack.html",
        user=user,
        pack=pack,
        rows=rows(pack),
        model=rt.catalog.find(pack.type.value, pack.model),
        active="packs",
    )


@router.get("/packs/{pack_id}/grid")
def pack_grid(pack_id: str, request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    """The grid alone, for pack.js to swap in while the pack fills."""
    pack = _load(rt, user, pack_id)
    return fragment(request, "_pack_grid.html", pack=pack, rows=rows(pack))
