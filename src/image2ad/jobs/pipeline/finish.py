"""The finish workflow: store a confirmed result (or record a failure) and end the job once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from dbos import DBOS
from dbos import error as dbos_error

from image2ad.faults import crash_point
from image2ad.jobs import repository, service
from image2ad.jobs.download import DownloadFailed, DownloadRefused, store_result
from image2ad.jobs.media import NotAVideo, probe_video
from image2ad.jobs.pipeline.steps import db_step, fail_job
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models.base import utcnow
from image2ad.runtime import current
from image2ad.storage.base import local_copy

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 4


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
