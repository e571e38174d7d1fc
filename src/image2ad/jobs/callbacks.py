"""Kie's completion callbacks. A callback is only a hint: it triggers a recordInfo check."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from image2ad.deps import RuntimeDep
from image2ad.errors import NotAuthenticated, NotFound
from image2ad.jobs import checker, repository
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models import Job
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
    if job is None or not hmac.compare_digest(job.callback_secret.encode(), secret.encode()):
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
    if job.status == JobStatus.PROCESSING.value:
        if job.task_id is None and task_id:
            await _check_soon(request, rt, job_id, lambda: _adopt_then_check(rt, job_id, task_id))
        elif job.task_id is not None and (task_id in (None, job.task_id)):
            await _check_soon(
                request, rt, job_id, lambda: checker.check_job(rt, job_id, "callback", job)
            )
    return JSONResponse({"code": 200, "msg": "Callback received successfully"})


@router.post("/kie/{job_id}/{secret}/progress")
async def kie_progress(job_id: str, secret: str, request: Request, rt: RuntimeDep) -> JSONResponse:
    """Sora's progress reports: shown to the user as they come, never trusted for the outcome."""
    body = await request.body()
    job = await asyncio.to_thread(_load, rt, job_id)
    if (
        len(body) > MAX_BODY
        or job is None
        or not hmac.compare_digest(job.callback_secret.encode(), secret.encode())
    ):
        raise NotFound("No such callback.")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = {}
    data = payload.get("data") if isinstance(payload, dict) else None
    progress = data.get("progress") if isinstance(data, dict) else None
    task_id = extract_task_id(payload) if isinstance(payload, dict) else None
    if (
        isinstance(progress, int | float)
        and job.status == JobStatus.PROCESSING.value
        and job.task_id is not None
        and task_id == job.task_id
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


class CallbackChecks:
    """The checks callbacks started in this process: at most one per job, and a bounded number.

    Kie repeats callbacks, and each check waits for the callbacks' share of the recordInfo
    budget. A check per copy once queued faster than the budget drained it: jobs stayed
    processing longer, drew more copies, and the waiting checks grew without end (the soak's
    memory growth, docs/soak.md). A copy for a job already being checked is now dropped, and
    past the bound a job is handed to the workers' polls instead.
    """

    MAX_WAITING = 256

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, job_id: str, check: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Start `check()` for the job unless one is running; False when full."""
        if job_id in self._tasks:
            return True
        if len(self._tasks) >= self.MAX_WAITING:
            return False
        task = asyncio.get_running_loop().create_task(check())
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))
        return True

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._tasks

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _check_soon(
    request: Request, rt: Runtime, job_id: str, check: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    # Answer Kie at once; if this process dies before the check, the sweeper's poll covers it.
    checks: CallbackChecks = request.app.state.callback_checks
    if not checks.start(job_id, check):
        await asyncio.to_thread(_make_due, rt, job_id)


def _make_due(rt: Runtime, job_id: str) -> None:
    with rt.db.session() as session:
        repository.update_active(session, job_id, next_check_at=utcnow())


def _load(rt: Runtime, job_id: str) -> Job | None:
    with rt.db.session(read_only=True) as session:
        return repository.get(session, job_id)
