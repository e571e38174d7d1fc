"""HTTP for packs. Thin: parse, call the service, commit, then start every job's workflow."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS, RequestInFlight, error_responses
from image2ad.faults import crash_point
from image2ad.jobs import export as jobs_export
from image2ad.jobs import pipeline, sources
from image2ad.jobs.endpoints import IdempotencyKeyHeader, deadline_for
from image2ad.jobs.export_endpoints import zip_response
from image2ad.jobs.schemas import QuoteCreate
from image2ad.jobs.status import JobStatus
from image2ad.models import User
from image2ad.packs import export, repository, service
from image2ad.packs.schemas import PackCreate, PackList, PackOut, PackQuoteCreate, PackQuoteOut
from image2ad.runtime import Runtime
from image2ad.storage import cleanup
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1",
    tags=["packs"],
    dependencies=[Depends(limit_api)],
    responses=COMMON_ERRORS | error_responses(402, 409),
)


class PickBody(BaseModel):
    job_id: str = Field(max_length=64, description="The variant that wins its placement")


@router.post("/packs", status_code=202, response_model=PackOut)
async def create_pack(
    body: PackCreate,
    user: CurrentUser,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> PackOut:
    """Make one brief for several placements (each result cropped to its exact ratio) and
    1 to 4 variants each: every job is charged in one transaction, or none is (402)."""
    copy = await sources.copy_parent_result(rt, user.id, _source_of(body))
    try:
        out, created, pending = await asyncio.to_thread(
            _accept, rt, user.id, body, idempotency_key, copy
        )
    except Exception:
        await sources.discard(rt, copy)
        raise
    if created:
        crash_point("P1")
    else:
        await sources.discard(rt, copy)
        response.headers["Idempotent-Replayed"] = "true"
    # On a replay this restarts jobs a crash left unsent (a workflow id makes it a no-op).
    for ticket in pending:
        await pipeline.enqueue_submit(ticket)
    return out


def _source_of(body: PackCreate) -> QuoteCreate:
    return QuoteCreate(
        type=body.type,
        prompt=body.prompt,
        source_upload_id=body.source_upload_id,
        source_job_id=body.source_job_id,
    )


def _accept(
    rt: Runtime, user_id: str, body: PackCreate, key: str | None, copy: sources.ResultCopy | None
) -> tuple[PackOut, bool, list[pipeline.Ticket]]:
    try:
        with rt.db.session() as session:
            user = session.get_one(User, user_id)
            accepted = service.create_pack(
                session,
                user,
                body,
                catalog=rt.catalog,
                deadline=deadline_for(rt, body.type),
                idempotency_key=key,
                max_active=rt.settings.max_active_jobs,
                source_copy=copy,
            )
            out = service.to_out(accepted.pack, accepted.jobs, rt.signer)
            pending = [
                pipeline.Ticket.of(j) for j in accepted.jobs if j.status == JobStatus.PENDING.value
            ]
            return out, accepted.created, pending
    except IntegrityError:
        if key is None:
            raise
    # Lost a race with a concurrent request carrying the same Idempotency-Key.
    with rt.db.session() as session:
        user = session.get_one(User, user_id)
        pack = service.replay_after_race(session, user, body, key)
        if pack is None:
            raise RequestInFlight("A request with this Idempotency-Key is still being processed.")
        pack_jobs = repository.jobs_of(session, [pack.id])
        return service.to_out(pack, pack_jobs, rt.signer), False, []


@router.post("/packs/quote", response_model=PackQuoteOut)
def quote_pack(body: PackQuoteCreate, user: CurrentUser, rt: RuntimeDep) -> PackQuoteOut:
    """What creating this pack would charge, job by job, with each placement's aspect ratio."""
    with rt.db.session(read_only=True) as session:
        return service.quote(session, rt.catalog, body)


@router.get("/packs", response_model=PackList)
def list_packs(
    user: CurrentUser,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 12,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PackList:
    """Your packs, newest first, each with its jobs."""
    with rt.db.session(read_only=True) as session:
        items, next_cursor = service.list_packs(
            session, user, rt.signer, cursor=cursor, limit=limit
        )
    return PackList(items=items, next_cursor=next_cursor)


@router.get("/packs/{pack_id}", response_model=PackOut)
def get_pack(pack_id: str, user: CurrentUser, rt: RuntimeDep) -> PackOut:
    with rt.db.session(read_only=True) as session:
        return service.show(session, user, pack_id, rt.signer)


@router.post("/packs/{pack_id}/pick", response_model=PackOut)
def pick_variant(pack_id: str, body: PickBody, user: CurrentUser, rt: RuntimeDep) -> PackOut:
    """Star one variant as its placement's winner; the placement's other variants lose their
    star."""
    with rt.db.session() as session:
        service.pick(session, user, pack_id, body.job_id)
    with rt.db.session(read_only=True) as session:
        return service.show(session, user, pack_id, rt.signer)


@router.delete("/packs/{pack_id}", status_code=204, response_class=Response)
async def delete_pack(pack_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    """Remove a pack, its jobs and their files; unfinished jobs are canceled as by
    DELETE /jobs/{id}."""

    def hide() -> list[str]:
        refund = rt.settings.cancel_after_submit == "refund"
        with rt.db.session() as session:
            return service.hide(session, user, pack_id, refund_after_submit=refund)

    await cleanup.discard(rt.db, rt.storage, await asyncio.to_thread(hide), "pack_deleted")
    return Response(status_code=204)


@router.get(
    "/packs/{pack_id}/zip",
    response_class=Response,
    responses={
        200: {
            "description": "The pack's finished results, streamed as the archive is written",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def pack_zip(pack_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    """Every finished result of the pack as one ZIP, named by placement and variant
    (`story-9x16-v2.png`)."""

    def load() -> tuple[list[jobs_export.Entry], str]:
        with rt.db.session(read_only=True) as session:
            pack = service.get_owned(session, user, pack_id)
            return export.entries(session, pack), export.archive_name(pack)

    members, name = await asyncio.to_thread(load)
    return zip_response(rt, members, name)
