"""The Library (the user's results, newest first) and the page of one job."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from image2ad.catalog import GenerationType
from image2ad.deps import RuntimeDep
from image2ad.jobs import repository
from image2ad.jobs import service as jobs
from image2ad.jobs.schemas import JobOut
from image2ad.jobs.status import JobStatus
from image2ad.models import User
from image2ad.placements import PLACEMENTS
from image2ad.runtime import Runtime
from image2ad.web import labels
from image2ad.web.deps import PageUser
from image2ad.web.render import fragment, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 24
# Jobs made from a result that its page lists, newest first.
CHILDREN_SHOWN = 20
Filter = Annotated[str | None, Query(max_length=200)]
# Cursors of the pages before this one (about 40 characters each), for "Newer".
TRAIL_MAX = 40
Trail = Annotated[str | None, Query(max_length=TRAIL_MAX * 64)]


def _load(rt: Runtime, user: User, job_id: str) -> JobOut:
    with rt.db.session(read_only=True) as session:
        job = jobs.get_owned(session, user, job_id)
        return jobs.to_out_placed(session, job, rt.signer, rt.send_queue())


def _known(value: str | None, allowed: set[str]) -> str | None:
    return value if value in allowed else None


@router.get("/library")
def library_page(
    request: Request,
    user: PageUser,
    rt: RuntimeDep,
    type: Filter = None,
    status: Filter = None,
    q: Filter = None,
    cursor: Filter = None,
    trail: Trail = None,
    starred: Filter = None,
) -> Response:
    filters = {
        "type": _known(type, {t.value for t in GenerationType}),
        "status": _known(status, {s.value for s in JobStatus}),
        "q": (q or "").strip() or None,
        "starred": "true" if starred == "true" else None,
    }
    with rt.db.session(read_only=True) as session:
        page = jobs.list_jobs(
            session,
            user,
            rt.signer,
            rt.send_queue(),
            type_=filters["type"],
            status=filters["status"],
            query=filters["q"],
            cursor=cursor or None,
            limit=PAGE_SIZE,
            starred=filters["starred"] is not None,
            include_total=True,
        )
    pages = Pages.at(cursor or None, trail)
    query = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "library.html",
        user=user,
        jobs=page.items,
        filters=filters,
        types=list(GenerationType),
        statuses=list(JobStatus),
        next_url=_url(query, *pages.older(page.next_cursor)) if page.next_cursor else None,
        newer_url=_url(query, *pages.newer()) if cursor else None,
        count_text=pages.count_text(len(page.items), page.total or 0),
        model_label=partial(labels.model_label, rt.catalog),
        active="library",
    )


def _url(query: dict[str, str], cursor: str | None, trail: list[str]) -> str:
    params = {**query}
    if cursor:
        params["cursor"] = cursor
    if trail:
        params["trail"] = ",".join(trail)
    return "/library" + ("?" + urlencode(params) if params else "")


@dataclass(frozen=True)
class Pages:
    """Where a cursor page sits: `trail` holds the cursors of the pages before it, so the
    Library can page back to newer results and say which of them it shows."""

    cursor: str | None
    trail: list[str]

    @classmethod
    def at(cls, cursor: str | None, trail: str | None) -> Pages:
        earlier = [c for c in (trail or "").split(",") if c] if cursor else []
        return cls(cursor, earlier[-TRAIL_MAX:])

    @property
    def index(self) -> int:
        return len(self.trail) + (1 if self.cursor else 0)

    def older(self, next_cursor: str) -> tuple[str, list[str]]:
        return next_cursor, [*self.trail, self.cursor] if self.cursor else []

    def newer(self) -> tuple[str | None, list[str]]:
        if not self.trail:
            return None, []
        return self.trail[-1], self.trail[:-1]

    def count_text(self, shown: int, total: int) -> str:
        if total == 0:
            return "No results"
        if shown == total:
            return f"{total} result{'s' if total != 1 else ''}"
        first = self.index * PAGE_SIZE + 1
        return f"{first}\u2013{first + shown - 1} of {total}"


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    job = _load(rt, user, job_id)
    with rt.db.session(read_only=True) as session:
        children = [
            jobs.to_out(child, rt.signer)
            for child in repository.children_of(session, job.id, user.id, CHILDREN_SHOWN)
        ]
    return render(
        request,
        "job.html",
        user=user,
        job=job,
        children=children,
        model=rt.catalog.find(job.type.value, job.model),
        placement=PLACEMENTS.get(job.placement or ""),
        active="library",
    )


@router.get("/jobs/{job_id}/card")
def job_card(job_id: str, request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    return fragment(
        request,
        "_job_card.html",
        job=_load(rt, user, job_id),
        model_label=partial(labels.model_label, rt.catalog),
    )
