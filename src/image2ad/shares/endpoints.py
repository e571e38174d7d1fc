"""HTTP for managing share links (the public pages are in pages.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS
from image2ad.shares import service
from image2ad.shares.schemas import ShareCreate, ShareCreated, ShareList
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1",
    tags=["shares"],
    dependencies=[Depends(limit_api)],
    responses=COMMON_ERRORS,
)


@router.post("/shares", status_code=201, response_model=ShareCreated)
def create_share(
    body: ShareCreate, user: CurrentUser, rt: RuntimeDep, response: Response
) -> ShareCreated:
    """A public link to one completed job or one pack of yours (a pack in any state: its page
    shows results as they finish). Anyone with the URL sees the results, with no login, until
    it expires or is revoked. The URL is in this answer only."""
    with rt.db.session() as session:
        share, token = service.create(session, user, body)
        out = service.to_out(share)
    # The answer holds a credential to the results: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return ShareCreated(
        **out.model_dump(), url=service.link(rt.settings.resolved_public_url, token)
    )


@router.get("/shares", response_model=ShareList)
def list_shares(
    user: CurrentUser,
    rt: RuntimeDep,
    job_id: Annotated[
        str | None, Query(max_length=64, description="Only links to this job")
    ] = None,
    pack_id: Annotated[
        str | None, Query(max_length=64, description="Only links to this pack")
    ] = None,
) -> ShareList:
    """Your links that still work (not revoked, not expired), newest first; never their URLs."""
    with rt.db.session(read_only=True) as session:
        items = service.list_active(session, user, job_id=job_id, pack_id=pack_id)
    return ShareList(items=items)


@router.delete("/shares/{share_id}", status_code=204, response_class=Response)
def revoke_share(share_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    """Turn a link off at once; its page answers 404 from then on. Idempotent: revoking a link
    of yours again is 204 too; a link that is not yours is 404."""
    with rt.db.session() as session:
        service.revoke(session, user, share_id)
    return Response(status_code=204)
