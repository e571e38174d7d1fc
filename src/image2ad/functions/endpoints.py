"""HTTP for the seed's four functions. Every answer, errors included, is in the seed's shape."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from image2ad.catalog import GenerationType
from image2ad.deps import RuntimeDep
from image2ad.errors import DomainError, InvalidInput
from image2ad.functions import identity, images, wait
from image2ad.functions.schemas import SeedFailure, SeedRequest, SeedSuccess
from image2ad.jobs import endpoints as jobs
from image2ad.jobs.schemas import JobCreate, JobOut
from image2ad.jobs.status import JobStatus
from image2ad.models import User
from image2ad.runtime import Runtime

router = APIRouter(prefix="/functions/v1", tags=["seed functions"])
FUNCTIONS = {
    "generate-text-image": GenerationType.TEXT_TO_IMAGE,
    "generate-image-image": GenerationType.IMAGE_TO_IMAGE,
    "generate-text-video": GenerationType.TEXT_TO_VIDEO,
    "generate-image-video": GenerationType.IMAGE_TO_VIDEO,
}
TAKES_IMAGE = {GenerationType.IMAGE_TO_IMAGE, GenerationType.IMAGE_TO_VIDEO}
DOC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": SeedSuccess},
    **{status: {"model": SeedFailure} for status in (401, 402, 409, 413, 415, 422, 429, 502, 504)},
}


def _failure(
    status_code: int,
    code: str,
    message: str,
    job: JobOut | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = SeedFailure(
        error=message,
        code=code,
        jobId=job.id if job else None,
        status=job.status.value if job else None,
    )
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def _answer(rt: Runtime, job: JobOut) -> JSONResponse:
    if job.status == JobStatus.COMPLETED and job.result_path and job.result_url:
        body = SeedSuccess(
            jobId=job.id,
            result_path=job.result_path,
            result_url=rt.settings.resolved_public_url + job.result_url,
            result_type=job.result_type,
        )
        return JSONResponse(body.model_dump())
    if not job.status.is_terminal:
        return _failure(
            504,
            "timeout",
            "The job is still running; follow it at /api/v1/jobs/{id} with jobId.",
            job,
        )
    if job.status == JobStatus.CANCELED:
        return _failure(409, "canceled", "The job was canceled; its credit came back.", job)
    error = job.error
    code = error.code if error else "generation_failed"
    message = error.message if error else "The generation failed."
    # A model Kie paused answers like the API's up-front refusal; any other end is the
    # provider's (the job is refunded either way).
    return _failure(409 if code == "model_unavailable" else 502, code, message, job)


async def _body(request: Request, type_: GenerationType) -> SeedRequest:
    try:
        raw = json.loads(await request.body() or b"null")
        seed = SeedRequest.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError) and exc.errors():
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            text = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
            raise InvalidInput(text, field=field) from exc
        raise InvalidInput("Send a JSON object with a prompt.") from exc
    if seed.imageUrl and seed.source_upload_id:
        raise InvalidInput("Send imageUrl or source_upload_id, not both.", field="imageUrl")
    has_image = bool(seed.imageUrl or seed.source_upload_id)
    if type_ in TAKES_IMAGE and not has_image:
        raise InvalidInput(f"{type_.value} needs imageUrl or source_upload_id.", field="imageUrl")
    if type_ not in TAKES_IMAGE and has_image:
        raise InvalidInput(
            f"{type_.value} takes no image: leave out imageUrl and source_upload_id.",
            field="imageUrl",
        )
    return seed


async def _generate(request: Request, rt: Runtime, type_: GenerationType) -> JSONResponse:
    try:
        user: User = await asyncio.to_thread(identity.caller, request, rt)
        rt.limiter.hit(rt.settings.api_rate_limit, "api", user.id)
        seed = await _body(request, type_)
        rt.limiter.hit(
            rt.settings.job_rate_limit, "jobs", user.id, message="Too many new generations."
        )
        upload_id = seed.source_upload_id
        if seed.imageUrl:
            upload_id = await images.upload_from_url(rt, user, seed.imageUrl)
        body = JobCreate(
            type=type_,
            prompt=seed.prompt,
            aspect_ratio=seed.aspect_ratio,
            source_upload_id=upload_id,
        )
        job, _ = await jobs.submit(rt, user.id, body)
    except DomainError as exc:
        return _failure(exc.status_code, exc.code, exc.message, headers=exc.headers)
    ended = await wait.until_ended(
        rt, user.id, job, rt.settings.functions.wait_s, request.is_disconnected
    )
    return _answer(rt, ended)


def _route(name: str, type_: GenerationType) -> None:
    async def generate(request: Request, rt: RuntimeDep) -> JSONResponse:
        return await _generate(request, rt, type_)

    generate.__name__ = name.replace("-", "_")
    generate.__doc__ = (
        f"The seed's `{name}`: a {type_.value} job, answered when it ends (docs/adr/0017)."
    )
    router.add_api_route(
        f"/{name}",
        generate,
        methods=["POST"],
        response_model=SeedSuccess,
        responses=DOC_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SeedRequest.model_json_schema()}},
            }
        },
    )


for _name, _type in FUNCTIONS.items():
    _route(_name, _type)
