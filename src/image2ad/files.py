"""Signed result links: the ownership check happened when the link was issued."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from image2ad.brand import repository as renditions
from image2ad.deps import RuntimeDep
from image2ad.errors import NotFound, error_responses
from image2ad.jobs import repository
from image2ad.jobs.status import JobStatus
from image2ad.storage.serving import serve_object

router = APIRouter(prefix="/api/v1", tags=["jobs"], responses=error_responses(404))


@router.get("/files/{token}", response_class=Response)
async def signed_file(token: str, rt: RuntimeDep) -> Response:
    target = rt.signer.verify(token)
    if target is None:
        raise NotFound("This link is not valid or has expired.")

    def load() -> tuple[str, str] | None:
        with rt.db.session(read_only=True) as session:
            job = repository.get(session, target.job_id)
            if job is None or job.deleted_at is not None:
                return None
            if job.status != JobStatus.COMPLETED.value:
                return None
            if job.result_path is not None and target.names(job.result_path):
                return job.result_path, job.result_content_type or "application/octet-stream"
            if job.poster_path is not None and target.names(job.poster_path):
                return job.poster_path, "image/jpeg"
            for key, content_type in renditions.keys_of_job(session, job.id):
                if target.names(key):
                    return key, content_type
            return None

    found = await asyncio.to_thread(load)
    if found is None:
        raise NotFound("This link is not valid or has expired.")
    key, content_type = found
    return await serve_object(rt.storage, key, content_type)
