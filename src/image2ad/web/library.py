"""The Library (the user's results, newest first) and the page of one job."""

from __future__ import annotations

from functools import partial
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from image2ad.catalog import GenerationType
from image2ad.deps import RuntimeDep
from image2ad.jobs import service as jobs
from image2ad.jobs.schemas import JobOut
from image2ad.jobs.status import JobStatus
from image2ad.models import User
from image2ad.runtime import Runtime
from image2ad.web import labels
from image2ad.web.deps import PageUser
from image2ad.web.render import fragment, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 24
Filter = Annotated[str | None, Query(max_length=200)]


def _load(rt: Runtime, user: User, job_id: str) -> JobOut:
    with rt.db.session(read_only=True) as session:
        return jobs.to_out(jobs.get_owned(session, user, job_id), rt.signer)


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
) -> Response:
    filters = {
        "type": _known(type, {t.value for t in GenerationType}),
        "status": _known(status, {s.value for s in JobStatus}),
        "q": (q or "").strip() or None,
    }
    with rt.db.session(read_only=True) as session:
        page = jobs.list_jobs(
            session,
            user,
            rt.signer,
            type_=filters["type"],
            status=filters["status"],
            query=filters["q"],
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
    query = {k: v for k, v in filters.items() if v}
    next_url = (
        "/library?" + urlencode({**query, "cursor": page.next_cursor}) if page.next_cursor else None
    )
    return render(
        request,
        "library.html",
        user=user,
        jobs=page.items,
        filters=filters,
        types=list(GenerationType),
        statuses=list(JobStatus),
        next_url=next_url,
        model_label=partial(labels.model_label, rt.catalog),
        first_url=("/library?" + urlencode(query)) if cursor else None,
        active="library",
    )


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    job = _load(rt, user, job_id)
    return render(
        request,
        "job.html",
        user=user,
        job=job,
        model=rt.catalog.find(job.type.value, job.model),
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
