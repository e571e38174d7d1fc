"""The durable job pipeline on DBOS, in the split shape (docs/adr/0001-durable-jobs-on-dbos.md).

submit_job: take a createTask rate-limit slot, mark the job processing, call createTask, save
the task id, end. The job then waits as a row with `next_check_at`; a callback or a due poll
(jobs/checker.py) confirms the outcome with recordInfo and starts finish_job, whose workflow id
is derived from the job id so a duplicate start is a no-op.

Every step is idempotent: guarded state transitions, a ledger keyed by (job_id, kind), and an
object key fixed by a checkpointed step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from dbos import DBOS, Queue, SetWorkflowID
from dbos import error as dbos_error

from image2ad.faults import crash_point
from image2ad.jobs import repository, service
from image2ad.jobs.download import DownloadFailed, DownloadRefused, store_result
from image2ad.jobs.media import NotAVideo, probe_video
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models.base import utcnow
from image2ad.providers.errors import (
    ProviderError,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderSubmitUncertain,
    ProviderUnavailable,
)
from image2ad.runtime import current
from image2ad.storage.base import local_copy
from image2ad.uploads import repository as uploads

log = logging.getLogger(__name__)

CREATE_QUEUE = "kie-create"
FINISH_QUEUE = "job-finish"
DOWNLOAD_ATTEMPTS = 4
# When Kie refuses a create for load reasons, the job goes back to the queue instead of failing.
REQUEUE_AFTER = timedelta(seconds=15)
SUBMIT_WATCHDOG = timedelta(minutes=5)


def submit_workflow_id(job_id: str, attempt: int) -> str:
    return f"submit-{job_id}-{attempt}"


def finish_workflow_id(job_id: str) -> str:
    return f"finish-{job_id}"


F = TypeVar("F", bound=Callable[..., Any])
_queues: dict[str, Queue] = {}


def db_step(name: str) -> Callable[[F], F]:
    """A database step: retried, since a busy or restarting database is a passing fault."""
    decorator = DBOS.step(
        name=name, retries_allowed=True, max_attempts=8, interval_seconds=0.2, backoff_rate=2.0
    )
    return cast(Callable[[F], F], decorator)


def use_queues(*queues: Queue) -> None:
    """Called once the engine registered its queues (registration needs a launched DBOS)."""
    _queues.update({q.name: q for q in queues})


async def enqueue_submit(job_id: str, attempt: int) -> None:
    queue = _queues[CREATE_QUEUE]
    with SetWorkflowID(submit_workflow_id(job_id, attempt)):
        await queue.enqueue_async(submit_job, job_id)


async def enqueue_finish(job_id: str, outcome: dict[str, Any]) -> None:
    queue = _queues[FINISH_QUEUE]
    with SetWorkflowID(finish_workflow_id(job_id)):
        await queue.enqueue_async(finish_job, job_id, outcome)


# ---- submit -----------------------------------------------------------------------------------


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


@DBOS.step(name="upload_reference")
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
    if not await asyncio.to_thread(_claim_send, job_id, attempt):
        raise ProviderSubmitUncertain("createTask for this attempt may already have been sent")
    client = current().kie()
    task_id = await client.create_task(
        request["model"],
        request["input"],
        callback_url=request["callback_url"],
        progress_callback_url=request["progress_callback_url"],
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
                next_check_at=now + timedelta(seconds=rt.settings.jobs.poll_schedule_s[0]),
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


@db_step("fail_job")
async def fail_job(
    job_id: str, code: str, message: str, provider_credits: float | None = None
) -> bool:
    crash_point("F")

    def run() -> bool:
        with current().db.session() as session:
            return service.fail_and_refund(
                session, job_id, code=code, message=message, provider_credits=provider_credits
            )

    return await asyncio.to_thread(run)


def create_request(plan: dict[str, Any], image_urls: list[str]) -> dict[str, Any]:
    spec = current().catalog.get(plan["type"])
    callback = plan["callback_url"]
    return {
        "model": plan["model"],
        "input": spec.build_input(plan["prompt"], plan["params"], image_urls),
        "callback_url": callback,
        "progress_callback_url": (
            f"{callback}/progress" if callback and spec.supports_progress_callback else None
        ),
    }


@DBOS.workflow(name="submit_job")
async def submit_job(job_id: str) -> None:
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
        await save_source_url(job_id, url)
        image_urls = [url]
    try:
        task_id = await create_task(job_id, plan["attempt"], create_request(plan, image_urls))
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


# ---- finish -----------------------------------------------------------------------------------


@db_step("plan_result")
async def plan_result(job_id: str) -> dict[str, Any] | None:
    """Fix the object key (checkpointed, so a re-run writes the same key) and mark downloading."""

    def run() -> dict[str, Any] | None:
        rt = current()
        with rt.db.session() as session:
            job = repository.get(session, job_id)
            if job is None or job.status != JobStatus.PROCESSING.value:
                return None
            spec = rt.catalog.get(job.type)
            key = (
                f"results/{job.user_id}/{job.type}/{job.id}-{int(time.time() * 1000)}."
                f"{spec.extension(job.params)}"
            )
            repository.update_active(
                session, job_id, stage=JobStage.DOWNLOADING.value, updated_at=utcnow()
            )
            return {"key": key, "result_type": job.result_type}

    return await asyncio.to_thread(run)


@DBOS.step(
    name="store_result",
    retries_allowed=True,
    max_attempts=DOWNLOAD_ATTEMPTS,
    interval_seconds=1.0,
    backoff_rate=2.0,
    should_retry=lambda exc: isinstance(exc, DownloadFailed),
)
async def store_result_step(url: str, key: str, result_type: str) -> dict[str, Any]:
    crash_point("P4")
    rt = current()
    stored = await store_result(
        url, rt.storage, key, policy=rt.download_policy(), result_type=result_type
    )
    return {
        "size": stored.size,
        "content_type": stored.content_type,
        "width": stored.width,
        "height": stored.height,
    }


@DBOS.step(
    name="describe_video",
    retries_allowed=True,
    max_attempts=4,
    interval_seconds=0.5,
    should_retry=lambda exc: not isinstance(exc, NotAVideo),
)
async def describe_video(job_id: str, key: str) -> dict[str, Any]:
    """Duration, size and a poster frame for a stored video (poster key follows the video's)."""
    rt = current()

    def mark_storing() -> None:
        with rt.db.session() as session:
            repository.update_active(
                session, job_id, stage=JobStage.STORING.value, updated_at=utcnow()
            )

    await asyncio.to_thread(mark_storing)
    async with local_copy(rt.storage, key) as path:
        info = await asyncio.to_thread(probe_video, path)
    poster_key = key.rsplit(".", 1)[0] + ".poster.jpg"

    async def poster() -> AsyncIterator[bytes]:
        yield info.poster_jpeg

    await rt.storage.write(poster_key, poster())
    return {
        "width": info.width,
        "height": info.height,
        "duration_s": info.duration_s,
        "poster_path": poster_key,
    }


@db_step("complete_job")
async def complete_job(
    job_id: str, key: str, meta: dict[str, Any], provider_credits: float | None
) -> bool:
    crash_point("P5")

    def run() -> bool:
        with current().db.session() as session:
            return service.complete(
                session,
                job_id,
                result_path=key,
                content_type=meta["content_type"],
                size=meta["size"],
                width=meta["width"],
                height=meta["height"],
                duration_s=meta.get("duration_s"),
                poster_path=meta.get("poster_path"),
                provider_credits=provider_credits,
            )

    done = await asyncio.to_thread(run)
    if not done:
        # Someone else ended the job (cancel, deadline) while we downloaded: drop the files.
        await current().storage.delete(key)
        if meta.get("poster_path"):
            await current().storage.delete(meta["poster_path"])
    crash_point("P6")
    return done


@DBOS.workflow(name="finish_job")
async def finish_job(job_id: str, outcome: dict[str, Any]) -> None:
    """Finish a job whose outcome recordInfo confirmed, or whose deadline passed."""
    credits_used = outcome.get("credits_consumed")
    if outcome["kind"] != "success":
        await fail_job(job_id, outcome["code"], outcome["message"], credits_used)
        return
    plan = await plan_result(job_id)
    if plan is None:
        return
    urls: list[str] = outcome["urls"]
    try:
        meta = await store_result_step(urls[0], plan["key"], plan["result_type"])
        if plan["result_type"] == "video":
            meta |= await describe_video(job_id, plan["key"])
    except (
        DownloadRefused,
        DownloadFailed,
        NotAVideo,
        dbos_error.DBOSMaxStepRetriesExceeded,
    ) as exc:
        log.warning("result of job %s could not be stored: %s", job_id, exc)
        await current().storage.delete(plan["key"])
        await fail_job(
            job_id,
            "result_unavailable",
            "The provider's result could not be retrieved. Your credit was returned.",
            credits_used,
        )
        return
    await complete_job(job_id, plan["key"], meta, credits_used)
