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
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from dbos import DBOS, Queue, SetWorkflowID
from dbos import error as dbos_error

from image2ad.jobs import repository, service
from image2ad.jobs.download import DownloadFailed, DownloadRefused, store_result
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

log = logging.getLogger(__name__)

CREATE_QUEUE = "kie-create"
FINISH_QUEUE = "job-finish"
DOWNLOAD_ATTEMPTS = 4
# When Kie refuses a create for load reasons, the job goes back to the queue instead of failing.
REQUEUE_AFTER = timedelta(seconds=15)


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
    """Mark the job processing and return what createTask needs; None when nothing to do."""

    def run() -> dict[str, Any] | None:
        rt = current()
        with rt.db.session() as session:
            job = repository.get(session, job_id)
            if job is None or job.status != JobStatus.PENDING.value or job.task_id:
                return None
            now = utcnow()
            repository.transition(
                session,
                job_id,
                JobStatus.PROCESSING,
                stage=JobStage.SUBMITTING.value,
                started_at=job.started_at or now,
                next_check_at=None,
                updated_at=now,
            )
            spec = rt.catalog.get(job.type)
            return {
                "model": job.model,
                "input": spec.build_input(job.prompt, job.params),
                "callback_url": rt.callback_url(job.id, job.callback_secret),
                "progress": spec.supports_progress_callback,
            }

    return await asyncio.to_thread(run)


@DBOS.step(name="create_task")
async def create_task(plan: dict[str, Any]) -> str:
    """Only the createTask call: its return value is the checkpoint that saves the task id."""
    callback = plan["callback_url"]
    return (
        await current()
        .kie()
        .create_task(
            plan["model"],
            plan["input"],
            callback_url=callback,
            progress_callback_url=callback if plan["progress"] else None,
        )
    )


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
    def run() -> bool:
        with current().db.session() as session:
            return service.fail_and_refund(
                session, job_id, code=code, message=message, provider_credits=provider_credits
            )

    return await asyncio.to_thread(run)


@DBOS.workflow(name="submit_job")
async def submit_job(job_id: str) -> None:
    plan = await begin_submit(job_id)
    if plan is None:
        return
    try:
        task_id = await create_task(plan)
    except ProviderSubmitUncertain:
        log.warning("createTask outcome unknown for job %s; waiting for an orphan callback", job_id)
        await defer_submit(job_id, current().settings.jobs.submit_grace_s, True)
        return
    except (ProviderRateLimited, ProviderUnavailable) as exc:
        log.info("createTask refused for load (%s); job %s requeued", exc.code, job_id)
        await defer_submit(job_id, REQUEUE_AFTER.total_seconds(), False)
        return
    except ProviderError as exc:
        if isinstance(exc, ProviderOutOfCredits):
            log.error("Kie account is out of credits: job %s failed and refunded", job_id)
        await fail_job(job_id, exc.code, _user_message(exc))
        return
    await save_task_id(job_id, task_id)


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
    rt = current()
    stored = await store_result(
        url,
        rt.storage,
        key,
        allowed_hosts=rt.download_hosts(),
        plain_http_hosts=frozenset({rt.local_url.split("://", 1)[1]})
        if rt.settings.uses_emulator
        else frozenset(),
        max_bytes=rt.settings.max_result_bytes,
        timeout_s=300.0,
        result_type=result_type,
    )
    return {
        "size": stored.size,
        "content_type": stored.content_type,
        "width": stored.width,
        "height": stored.height,
    }


@db_step("complete_job")
async def complete_job(
    job_id: str, key: str, meta: dict[str, Any], provider_credits: float | None
) -> bool:
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
                provider_credits=provider_credits,
            )

    done = await asyncio.to_thread(run)
    if not done:
        # Someone else ended the job (cancel, deadline) while we downloaded: drop the file.
        await current().storage.delete(key)
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
    except (DownloadRefused, DownloadFailed, dbos_error.DBOSMaxStepRetriesExceeded) as exc:
        log.warning("result of job %s could not be stored: %s", job_id, exc)
        await fail_job(
            job_id,
            "result_unavailable",
            f"The result could not be retrieved from the provider ({exc}).",
            credits_used,
        )
        return
    await complete_job(job_id, plan["key"], meta, credits_used)
