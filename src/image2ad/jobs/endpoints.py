"""HTTP for jobs. Thin: parse, call the service, commit, then start the workflow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.exc import IntegrityError
from sse_starlette import EventSourceResponse, ServerSentEvent

from image2ad.catalog import GenerationType
from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS, NotFound, RequestInFlight, error_responses
from image2ad.faults import crash_point
from image2ad.jobs import pipeline, quotes, repository, service, sources
from image2ad.jobs.naming import download_name
from image2ad.jobs.schemas import JobCreate, JobList, JobOut, QuoteCreate, QuoteOut
from image2ad.jobs.status import JobStatus
from image2ad.models import Job, User
from image2ad.runtime import Runtime
from image2ad.storage import cleanup
from image2ad.storage.serving import serve_object
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1",
    tags=["jobs"],
    dependencies=[Depends(limit_api)],
    responses=COMMON_ERRORS | error_responses(402, 409),
)
# A job changes a handful of times; a cheap indexed read twice a second keeps streams current.
EVENTS_POLL_S = 0.5
# The queue stream lists at most this many unfinished jobs (the active-job cap is usually lower).
QUEUE_EVENTS_MAX = 200
QUEUE_STREAM_MAX_S = 600
QUEUE_RETRY_MS = 5000
IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=255, min_length=1)
]


@router.post("/jobs", status_code=202, response_model=JobOut)
async def create_job(
    body: JobCreate,
    user: CurrentUser,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobOut:
    """Start a generation. An image type takes its reference as `source_upload_id` or as
    `source_job_id` (a completed image job of yours, whose result is copied for it)."""
    job_out, created = await submit(rt, user.id, body, idempotency_key)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return job_out


async def submit(
    rt: Runtime, user_id: str, body: JobCreate, idempotency_key: str | None = None
) -> tuple[JobOut, bool]:
    """Accept the job (charged once, in one transaction) and start its workflow.

    Returns the job and whether this call created it (False: an Idempotency-Key replay)."""
    copy = await sources.copy_parent_result(rt, user_id, body)
    try:
        job_out, created, ticket = await asyncio.to_thread(
            _accept, rt, user_id, body, idempotency_key, copy
        )
    except Exception:
        # Not on cancellation: the thread may still commit a job that needs the copy.
        await sources.discard(rt, copy)
        raise
    if created:
        crash_point("P1")
        await pipeline.enqueue_submit(ticket)
    else:
        await sources.discard(rt, copy)
        if job_out.status == JobStatus.PENDING:
            # A client retrying after we crashed between commit and enqueue: start it now
            # rather than at the sweeper's safety net (the workflow id makes this a no-op
            # when it already runs).
            await pipeline.enqueue_submit(ticket)
    return job_out, created


def deadline_for(rt: Runtime, type_: GenerationType) -> timedelta:
    """How long a new job of this type may take before it ends failed and refunded."""
    jobs = rt.settings.jobs
    video = type_.result_type == "video"
    return timedelta(seconds=jobs.video_deadline_s if video else jobs.image_deadline_s)


def _accept(
    rt: Runtime, user_id: str, body: JobCreate, key: str | None, copy: sources.ResultCopy | None
) -> tuple[JobOut, bool, pipeline.Ticket]:
    try:
        with rt.db.session() as session:
            user = session.get_one(User, user_id)
            accepted = service.create_job(
                session,
                user,
                body,
                catalog=rt.catalog,
                deadline=deadline_for(rt, body.type),
                idempotency_key=key,
                max_active=rt.settings.max_active_jobs,
                source_copy=copy,
            )
            return (
                service.to_out(accepted.job, rt.signer),
                accepted.created,
                pipeline.Ticket.of(accepted.job),
            )
    except IntegrityError:
        if key is None:
            raise
    # Lost a race with a concurrent request carrying the same Idempotency-Key.
    with rt.db.session() as session:
        user = session.get_one(User, user_id)
        job = service.replay_after_race(session, user, body, key)
        if job is None:
            raise RequestInFlight("A request with this Idempotency-Key is still being processed.")
        return service.to_out(job, rt.signer), False, pipeline.Ticket.of(job)


@router.post("/quotes", response_model=QuoteOut)
def quote_job(body: QuoteCreate, user: CurrentUser, rt: RuntimeDep) -> QuoteOut:
    """What creating this job would charge, and the model that would run it."""
    with rt.db.session(read_only=True) as session:
        priced = quotes.quote(session, rt.catalog, body)
    return QuoteOut(credits=priced.credits, model=priced.model.id, params=priced.params)


@router.get("/jobs", response_model=JobList)
def list_jobs(
    user: CurrentUser,
    rt: RuntimeDep,
    type: GenerationType | None = None,
    status: JobStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    starred: Annotated[bool, Query(description="Only starred jobs")] = False,
    include_total: Annotated[
        bool, Query(description="Add `total`: how many jobs match the filters on all pages")
    ] = False,
) -> JobList:
    with rt.db.session(read_only=True) as session:
        return service.list_jobs(
            session,
            user,
            rt.signer,
            rt.send_queue(),
            type_=type.value if type else None,
            status=status.value if status else None,
            query=q,
            cursor=cursor,
            limit=limit,
            starred=starred,
            include_total=include_total,
        )


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, user: CurrentUser, rt: RuntimeDep) -> JobOut:
    with rt.db.session(read_only=True) as session:
        # By primary key, the owner checked here: the mapper's cached statement costs about a
        # quarter less CPU than building the filtered select, on the most frequent call.
        job = session.get(Job, job_id)
        if job is None or job.user_id != user.id or job.deleted_at is not None:
            raise NotFound("No such job.")
        return service.to_out_placed(session, job, rt.signer, rt.send_queue())


@router.get(
    "/jobs/{job_id}/result",
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "video/mp4": {}}}},
    response_class=Response,
)
async def get_result(job_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    def load() -> tuple[str, str, str]:
        with rt.db.session(read_only=True) as session:
            job = service.get_owned(session, user, job_id)
            if job.status != JobStatus.COMPLETED.value or not job.result_path:
                raise NotFound("This job has no result yet.")
            name = download_name(job.type, job.prompt, job.created_at, job.result_path)
            return job.result_path, job.result_content_type or "application/octet-stream", name

    key, content_type, name = await asyncio.to_thread(load)
    return await serve_object(rt.storage, key, content_type, filename=name)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: str, user: CurrentUser, rt: RuntimeDep) -> JobOut:
    """Stop an unfinished job. Its credit comes back unless Kie had already accepted the task
    and IMAGE2AD_CANCEL_AFTER_SUBMIT=keep; a result that arrives later is never kept."""
    refund = rt.settings.cancel_after_submit == "refund"
    with rt.db.session() as session:
        job = service.cancel(session, user, job_id, refund_after_submit=refund)
        return service.to_out(job, rt.signer)


@router.put("/jobs/{job_id}/star", response_model=JobOut)
def star_job(job_id: str, user: CurrentUser, rt: RuntimeDep) -> JobOut:
    """Add the job to your favourites (`GET /jobs?starred=true`); starring twice is a no-op."""
    return _set_starred(rt, user, job_id, starred=True)


@router.delete("/jobs/{job_id}/star", response_model=JobOut)
def unstar_job(job_id: str, user: CurrentUser, rt: RuntimeDep) -> JobOut:
    """Remove the job from your favourites; unstarring a job that is not starred is a no-op."""
    return _set_starred(rt, user, job_id, starred=False)


def _set_starred(rt: Runtime, user: User, job_id: str, *, starred: bool) -> JobOut:
    with rt.db.session() as session:
        job = service.set_starred(session, user, job_id, starred)
        return service.to_out(job, rt.signer)


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=JobOut)
async def retry_job(
    job_id: str,
    user: CurrentUser,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobOut:
    """Make the same generation again as a new job (charged like any new job)."""

    def load() -> JobCreate:
        with rt.db.session(read_only=True) as session:
            return service.recipe(service.get_owned(session, user, job_id))

    body = await asyncio.to_thread(load)
    return await create_job(body, user, rt, response, idempotency_key)


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response)
async def delete_job(job_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    """Remove a job and its files; an unfinished job is canceled and refunded first."""

    def hide() -> list[str]:
        refund = rt.settings.cancel_after_submit == "refund"
        with rt.db.session() as session:
            return service.hide(session, user, job_id, refund_after_submit=refund)

    await cleanup.discard(rt.db, rt.storage, await asyncio.to_thread(hide), "job_deleted")
    return Response(status_code=204)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def user_events(user: CurrentUser, rt: RuntimeDep) -> EventSourceResponse:
    """Server-Sent Events for all of the user's work, one stream per browser tab: `queue` with
    every unfinished job (oldest first) whenever any of them changes, and `job` with the final
    snapshot of each job that ends while the stream is open.

    The stream closes once nothing is unfinished (and after QUEUE_STREAM_MAX_S): an idle tab
    holds no connection, and EventSource reconnects by itself after the `retry` interval."""

    def unfinished() -> list[JobOut]:
        with rt.db.session(read_only=True) as session:
            return service.unfinished(session, user, rt.signer, rt.send_queue(), QUEUE_EVENTS_MAX)

    def ended(job_ids: set[str]) -> list[JobOut]:
        with rt.db.session(read_only=True) as session:
            return [
                service.to_out(job, rt.signer)
                for job_id in sorted(job_ids)
                if (job := repository.get_owned(session, job_id, user.id)) is not None
            ]

    async def stream() -> AsyncIterator[ServerSentEvent]:
        last: list[tuple[Any, ...]] | None = None
        shown: set[str] = set()
        until = time.monotonic() + QUEUE_STREAM_MAX_S
        while True:
            jobs = await asyncio.to_thread(unfinished)
            ids = {job.id for job in jobs}
            # Jobs that left the list ended (or were deleted): their last word, refunds included.
            gone = shown - ids
            for job in await asyncio.to_thread(ended, gone) if gone else []:
                yield ServerSentEvent(job.model_dump_json(), event="job")
            snapshot = [
                (j.id, j.status, j.stage, j.progress, j.task_id, j.queue_position) for j in jobs
            ]
            if snapshot != last:
                items = JobList(items=jobs, next_cursor=None)
                yield ServerSentEvent(items.model_dump_json(), event="queue", retry=QUEUE_RETRY_MS)
                last = snapshot
            if not jobs or time.monotonic() > until:
                return
            shown = ids
            await asyncio.sleep(EVENTS_POLL_S)

    return EventSourceResponse(stream(), ping=15)


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(job_id: str, user: CurrentUser, rt: RuntimeDep) -> EventSourceResponse:
    """Server-Sent Events: the job's snapshot each time it changes, ending once it is terminal."""

    def load() -> JobOut:
        with rt.db.session(read_only=True) as session:
            job = service.get_owned(session, user, job_id)
            return service.to_out_placed(session, job, rt.signer, rt.send_queue())

    first = await asyncio.to_thread(load)

    async def stream() -> AsyncIterator[dict[str, str]]:
        job, last = first, None
        while True:
            snapshot = (job.status, job.stage, job.progress, job.task_id, job.queue_position)
            if snapshot != last:
                yield {"event": "job", "data": job.model_dump_json()}
                last = snapshot
            if job.status.is_terminal:
                return
            await asyncio.sleep(EVENTS_POLL_S)
            job = await asyncio.to_thread(load)

    return EventSourceResponse(stream(), ping=15)
