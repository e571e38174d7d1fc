from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request, Response, UploadFile

from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS, InvalidInput, PayloadTooLarge, error_responses
from image2ad.storage.serving import serve_object
from image2ad.throttle import limit_api
from image2ad.uploads import service
from image2ad.uploads.images import MAX_UPLOAD_BYTES
from image2ad.uploads.schemas import UploadOut

router = APIRouter(
    prefix="/api/v1",
    tags=["uploads"],
    dependencies=[Depends(limit_api)],
    responses=COMMON_ERRORS | error_responses(413, 415),
)
# Multipart framing on top of the 10 MB file.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024


@router.post("/uploads", status_code=201, response_model=UploadOut, max_body_size=MAX_REQUEST_BYTES)
async def create_upload(
    request: Request, file: UploadFile, user: CurrentUser, rt: RuntimeDep
) -> UploadOut:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise PayloadTooLarge("Images must be 10 MB or smaller.", field="file")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge("Images must be 10 MB or smaller.", field="file")
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    return await service.create(rt, user, data, file.filename)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
async def get_upload(upload_id: str, user: CurrentUser, rt: RuntimeDep) -> UploadOut:
    upload = await asyncio.to_thread(service.get_owned, rt, user, upload_id)
    return service.to_out(upload)


@router.get("/uploads/{upload_id}/file", response_class=Response)
async def get_upload_file(upload_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    upload = await asyncio.to_thread(service.get_owned, rt, user, upload_id)
    return await serve_object(rt.storage, upload.storage_key, upload.content_type)
