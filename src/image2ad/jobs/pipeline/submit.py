"""The submit workflow: take a createTask slot, send the reference image, create the Kie task
and save its id. It ends there; the job then waits as a row (see jobs/checker.py)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from dbos import DBOS
from dbos import error as dbos_error

from image2ad.faults import crash_point
from image2ad.jobs import repository
from image2ad.jobs.pipeline.steps import db_step, fail_job, fail_model_unavailable
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models.base import utcnow
from image2ad.observability.context import bind_job
from image2ad.providers.errors import (
    ProviderError,
    ProviderModelUnavailable,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderSubmitUncertain,
    ProviderUnavailable,
)
from image2ad.runtime import current
from image2ad.storage.base import StorageError
from image2ad.uploads import repository as uploads

log = logging.getLogger(__name__)

# When Kie refuses a create for load reasons, the job goes back to the queue instead of failing.
REQUEUE_AFTER = timedelta(seconds=5)
SUBMIT_WATCHDOG = timedelta(minutes=5)


@db_step("begin_submit")
async def begin_submit(job_id: str) -> dict[str, Any] | None:
    """Mark the job processing and return what createTask needs; None when nothing to do.

    A crash after this step's transaction and before its checkpoint re-runs it on a job that is
    already processing: that re-run must carry on, not give up (create_task's per-attempt claim
    still prevents a second send).
    """

    def run() -> dict[str, Any] | None:
        rt = current()
        with rt.db.session() as session:
            job = repository.get(session, job_id)
            if job is None or job.task_id:
                return None
            rerun = job.status == JobStatus.PROCESSING.value and (
                job.stage == JobStage.SUBMITTING.value
            )
            if job.status != JobStatus.PENDING.value and not rerun:
                return None
            now = utcnow()
            # The watchdog: should this workflow vanish, the sweeper treats the submission as
            # uncertain once this time passes (DBOS normally resumes it long before).
            values = {
                "stage": JobStage.SUBMITTING.value,
                "next_check_at": now + SUBMIT_WATCHDOG,
                "updated_at": now,
            }
            if rerun:
                repository.update_active(session, job_id, **values)
            else:
                repository.transition(
                    session,
                    job_id,
                    JobStatus.PROCESSING,
                    started_at=job.started_at or now,
                    **values,
                )
            reference = None
            if job.source_upload_id:
                upload = uploads.get(session, job.source_upload_id)
                if upload is None:
                    return {"missing_reference": True}
                reference = {
                    "key": upload.storage_key,
                    "content_type": upload.content_type,
                    "extension": upload.storage_key.rsplit(".", 1)[-1],
                }
            return {
                "type": job.type,
                "model": job.model,
                "prompt": job.prompt,
                "params": job.params,
                "user_id": job.user_id,
                "attempt": job.submit_attempts,
                "reference": reference,
                "callback_url": rt.callback_url(job.id, job.callback_secret),
            }

    return await asyncio.to_thread(run)


@DBOS.step(
    name="upload_reference",
    retries_allowed=True,
    max_attempts=3,
    interval_seconds=1.0,
    should_retry=lambda exc: isinstance(exc, StorageError | OSError),
)
async def upload_reference(job_id: str, user_id: str, reference: dict[str, str]) -> str:
    """Put the reference image on Kie's upload host (its files expire, so at submit time)."""
    rt = current()
    data = b"".join([chunk async for chunk in rt.storage.read(reference["key"])])
    uploaded = await rt.kie().upload_file(
        data,
        file_name=f"{job_id}.{reference['extension']}",
        upload_path=f"image2ad/{user_id}",
        content_type=reference["content_type"],
    )
    crash_point("U1")
    return uploaded.download_url


@db_step("save_source_url")
async def save_source_url(job_id: str, url: str) -> None:
    def run() -> None:
        with current().db.session() as session:
            repository.update_active(session, job_id, source_image_url=url, updated_at=utcnow())

    await asyncio.to_thread(run)


@DBOS.step(name="create_task")
async def create_task(job_id: str, attempt: int, request: dict[str, Any]) -> str:
    """Only the createTask call: its return value is the checkpoint that saves the task id.

    A crash after sending and before that checkpoint makes DBOS run this step again; the
    per-attempt claim turns that re-run into "uncertain" instead of a second billed task.
    """
    rt = current()
    await rt.create_slot()
    if not await asyncio.to_thread(_claim_send, job_id, attempt):
        raise ProviderSubmitUncertain("createTask for this attempt may already have been sent")
    task_id = await rt.task_api(request.get("api", "market")).create_task(
        request["model"],
        request["input"],
        callback_url=request["callback_url"],
        progress_callback_url=request["progress_callback_url"],
        pace=rt.create_slot,
    )
    crash_point("P2")
    return task_id


def _claim_send(job_id: str, attempt: int) -> bool:
    with current().db.session() as session:
        return repository.claim_send(session, job_id, attempt)


@db_step("save_task_id")
async def save_task_id(job_id: str, task_id: str) -> None:
    def run() -> None:
        rt = current()
        now = utcnow()
        with rt.db.session() as session:
            repository.update_active(
                session,
                job_id,
                task_id=task_id,
                stage=JobStage.WAITING.value,
                submitted_at=now,
                poll_count=0,
                next_check_at=now + timedelta(seconds=rt.poll_schedule()[0]),
                updated_at=now,
            )

    await asyncio.to_thread(run)
    crash_point("P3")


@db_step("defer_submit")
async def defer_submit(job_id: str, delay_s: float, uncertain: bool) -> None:
    """Submit again later; when uncertain, first give an orphan task's callback time to arrive."""

    def run() -> None:
        rt = current()
        now = utcnow()
        with rt.db.session() as session:
            job = repository.get(session, job_id)
            if job is None or job.task_id:
                return
            if uncertain:
                # Stays processing without a task id: a callback naming this job adopts the
                # orphan task; after the grace period the sweeper resubmits.
                repository.update_active(
                    session,
                    job_id,
                    stage=JobStage.SUBMITTING.value,
                    next_check_at=now + timedelta(seconds=delay_s),
                    updated_at=now,
                )
            else:
                repository.transition(
                    session,
                    job_id,
                    JobStatus.PENDING,
                    stage=JobStage.QUEUED.value,
                    submit_attempts=job.submit_attempts + 1,
                    next_check_at=now + timedelta(seconds=delay_s),
                    updated_at=now,
                )

    await asyncio.to_thread(run)


def create_request(plan: dict[str, Any], image_urls: list[str]) -> dict[str, Any] | None:
    """What createTask (or Veo's generate) sends; None when the catalog no longer lists the
    job's model (an operator removed it while the job waited)."""
    spec = current().catalog.find(plan["type"], plan["model"])
    if spec is None:
        return None
    callback = plan["callback_url"]
    # The attempt rides along in the callback URL (Kie keeps it with the task): a task whose
    # answer was lost may be adopted only while its own attempt is the job's current one.
    tag = f"?attempt={plan['attempt']}"
    return {
        "api": spec.api,
        "model": spec.provider_model,
        "input": spec.build_input(plan["prompt"], plan["params"], image_urls),
        "callback_url": f"{callback}{tag}" if callback else callback,
        "progress_callback_url": (
            f"{callback}/progress{tag}" if callback and spec.supports_progress_callback else None
        ),
    }


@DBOS.workflow(name="submit_job")
async def submit_job(job_id: str) -> None:
    bind_job(job_id)
    plan = await begin_submit(job_id)
    if plan is None:
        return
    if plan.get("missing_reference"):
        await fail_job(job_id, "reference_missing", "The reference image no longer exists.")
        return
    image_urls: list[str] = []
    if plan["reference"] is not None:
        try:
            url = await upload_reference(job_id, plan["user_id"], plan["reference"])
        except ProviderError as exc:
            await _submit_refused(job_id, exc)
            return
        except (StorageError, OSError, dbos_error.DBOSMaxStepRetriesExceeded) as exc:
            # Our own storage is down: nothing went to Kie, so try again later (the deadline
            # ends the job, refunded, if the outage outlasts it).
            log.warning("reference of job %s could not be read (%s); requeued", job_id, exc)
            await defer_submit(job_id, REQUEUE_AFTER.total_seconds(), False)
            return
        await save_source_url(job_id, url)
        image_urls = [url]
    request = create_request(plan, image_urls)
    if request is None:
        message = f"The model {plan['model']} is no longer offered here."
        await fail_job(job_id, ProviderModelUnavailable.code, message)
        return
    try:
        task_id = await create_task(job_id, plan["attempt"], request)
    except ProviderSubmitUncertain:
        log.warning("createTask outcome unknown for job %s; waiting for an orphan callback", job_id)
        await defer_submit(job_id, current().settings.jobs.submit_grace_s, True)
        return
    except ProviderError as exc:
        await _submit_refused(job_id, exc)
        return
    await save_task_id(job_id, task_id)


async def _submit_refused(job_id: str, exc: ProviderError) -> None:
    """Kie said no before a task existed: wait and retry on load errors, else fail and refund."""
    if isinstance(exc, ProviderModelUnavailable):
        log.warning("Kie refused the model of job %s: %s", job_id, exc)
        await fail_model_unavailable(job_id, exc.kind, exc.message)
        return
    if isinstance(exc, ProviderRateLimited | ProviderUnavailable) or exc.retryable:
        log.info("Kie refused job %s for now (%s); requeued", job_id, exc.code)
        await defer_submit(job_id, REQUEUE_AFTER.total_seconds(), False)
        return
    if isinstance(exc, ProviderOutOfCredits):
        log.error("Kie account is out of credits: job %s failed and refunded", job_id)
    await fail_job(job_id, exc.code, _user_message(exc))


def _user_message(exc: ProviderError) -> str:
    if isinstance(exc, ProviderOutOfCredits):
        return "The generation service is temporarily unavailable. Your credit was returned."
    return f"The provider rejected the request: {exc.message}"
