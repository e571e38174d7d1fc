"""Kie's completion callbacks. A callback is only a hint: it triggers a recordInfo check."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from image2ad.deps import RuntimeDep
from image2ad.errors import NotAuthenticated, NotFound
from image2ad.jobs import checker, repository
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models.base import utcnow
from image2ad.providers.kie.callbacks import extract_task_id, verify_signature
from image2ad.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/callbacks", include_in_schema=False)
MAX_BODY = 1024 * 1024


@router.post("/kie/{job_id}/{secret}")
async def kie_callback(job_id: str, secret: str, request: Request, rt: RuntimeDep) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise NotFound("No such callback.")
    job = await asyncio.to_thread(_load, rt, job_id)
    # The per-job secret authenticates the URL; unknown job and wrong secret look the same.
    if job is None or not hmac.compare_digest(job[0].encode(), secret.encode()):
        raise NotFound("No such callback.")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = {}
    task_id = extract_task_id(payload) if isinstance(payload, dict) else None
    hmac_key = rt.settings.kie.webhook_hmac_key
    if hmac_key and not verify_signature(
        hmac_key,
        task_id or "",
        request.headers.get("x-webhook-timestamp", ""),
        request.headers.get("x-webhook-signature", ""),
    ):
        raise NotAuthenticated("Callback signature is not valid.")
    _, status, saved_task_id = job
    if status == JobStatus.PROCESSING.value:
        if saved_task_id is None and task_id:
            _spawn(request, _adopt_then_check(rt, job_id, task_id))
        elif saved_task_id is not None and (task_id in (None, saved_task_id)):
            _spawn(request, checker.check_job(rt, job_id, "callback"))
    return JSONResponse({"code": 200, "msg": "Callback received successfully"})


@router.post("/kie/{job_id}/{secret}/progress")
async def kie_progress(job_id: str, secret: str, request: Request, rt: RuntimeDep) -> JSONResponse:
    """Sora's progress reports: shown to the user as they come, never trusted for the outcome."""
    body = await request.body()
    job = await asyncio.to_thread(_load, rt, job_id)
    if (
        len(body) > MAX_BODY
        or job is None
        or not hmac.compare_digest(job[0].encode(), secret.encode())
    ):
        raise NotFound("No such callback.")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = {}
    data = payload.get("data") if isinstance(payload, dict) else None
    progress = data.get("progress") if isinstance(data, dict) else None
    task_id = extract_task_id(payload) if isinstance(payload, dict) else None
    _, status, saved_task_id = job
    if (
        isinstance(progress, int | float)
        and status == JobStatus.PROCESSING.value
        and saved_task_id is not None
        and task_id == saved_task_id
    ):
        await asyncio.to_thread(_record_progress, rt, job_id, int(progress))
    return JSONResponse({"code": 200, "msg": "Progress received"})


def _record_progress(rt: Runtime, job_id: str, progress: int) -> None:
    with rt.db.session() as session:
        repository.update_active(
            session,
            job_id,
            stage=JobStage.GENERATING.value,
            progress=max(0, min(99, progress)),
            updated_at=utcnow(),
        )


async def _adopt_then_check(rt: Runtime, job_id: str, task_id: str) -> None:
    if await checker.adopt_orphan(rt, job_id, task_id):
        await checker.check_job(rt, job_id, "callback")


def _spawn(request: Request, coro: Any) -> None:
    # Answer Kie at once; if this process dies before the check, the sweeper's poll covers it.
    tasks: set[asyncio.Task[None]] = request.app.state.background_tasks
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def _load(rt: Runtime, job_id: str) -> tuple[str, str, str | None] | None:
    with rt.db.session(read_only=True) as session:
        job = repository.get(session, job_id)
        return None if job is None else (job.callback_secret, job.status, job.task_id)
