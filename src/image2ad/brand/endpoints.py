"""HTTP for the brand kit and renditions. Thin: parse, call the service, answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Response

from image2ad.brand import service
from image2ad.brand.schemas import (
    BrandKitIn,
    BrandKitOut,
    RenditionCreate,
    RenditionList,
    RenditionOut,
)
from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS
from image2ad.storage import cleanup
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1", tags=["brand"], dependencies=[Depends(limit_api)], responses=COMMON_ERRORS
)


@router.get("/brand", response_model=BrandKitOut)
def get_brand(user: CurrentUser, rt: RuntimeDep) -> BrandKitOut:
    """Your brand kit; the defaults until you save one."""
    with rt.db.session(read_only=True) as session:
        return service.get_kit(session, user)


@router.put("/brand", response_model=BrandKitOut)
def put_brand(body: BrandKitIn, user: CurrentUser, rt: RuntimeDep) -> BrandKitOut:
    """Replace your brand kit: logo (an upload of yours), colours, font, headline and CTA."""
    with rt.db.session() as session:
        return service.put_kit(session, user, body)


@router.post("/jobs/{job_id}/renditions", status_code=201, response_model=RenditionOut)
async def create_rendition(
    job_id: str, body: RenditionCreate, user: CurrentUser, rt: RuntimeDep
) -> RenditionOut:
    """Your completed image job's result with the brand layer on it, same size, free. Text
    left out comes from your kit; the original result is never changed."""
    return await service.create_rendition(rt, user, job_id, body)


@router.get("/jobs/{job_id}/renditions", response_model=RenditionList)
def list_renditions(job_id: str, user: CurrentUser, rt: RuntimeDep) -> RenditionList:
    """The job's renditions, newest first."""
    with rt.db.session(read_only=True) as session:
        return service.list_renditions(session, user, job_id, rt.signer)


@router.delete("/jobs/{job_id}/renditions/{rendition_id}", status_code=204, response_class=Response)
async def delete_rendition(
    job_id: str, rendition_id: str, user: CurrentUser, rt: RuntimeDep
) -> Response:
    """Remove a rendition and its file."""

    def forget() -> str:
        with rt.db.session() as session:
            return service.delete_rendition(session, user, job_id, rendition_id)

    key = await asyncio.to_thread(forget)
    await cleanup.discard(rt.db, rt.storage, [key], "rendition_deleted")
    return Response(status_code=204)
