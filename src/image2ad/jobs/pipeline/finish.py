"""The finish workflow: store a confirmed result (or record a failure) and end the job once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from dbos import DBOS
from dbos import error as dbos_error

from image2ad import placements
from image2ad.catalog import Catalog, GenerationType
from image2ad.faults import crash_point
from image2ad.jobs import repository, service
from image2ad.jobs.cropping import crop_stored
from image2ad.jobs.download import DownloadFailed, DownloadRefused, store_result
from image2ad.jobs.media import NotAVideo, probe_video
from image2ad.jobs.pipeline.steps import db_step, fail_job
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models import Job
from image2ad.models.base import utcnow
from image2ad.observability.context import bind_job
from image2ad.placements.crop import CropFailed
from image2ad.providers.errors import ProviderError
from image2ad.providers.kie.veo import VeoApi
from image2ad.runtime import current
from image2ad.storage import cleanup
from image2ad.storage.base import StorageError, local_copy

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 4
# Pauses between tries of a storing step once its own retries are spent (a storage outage).
RETRY_PAUSES_S = (5.0, 10.0, 20.0, 30.0)
# How long one try of the store step may take with its own retries (1 + 2 + 4 s of backoff).
STORE_TRY_SPAN_S = 10.0
# Pauses between tries of marking a job downloading: db_step's (0.2 s doubling, 8 tries).
MARK_PAUSES_S = tuple(0.2 * 2**n for n in range(7))


class DeadlineReached(Exception):
    """A storing step ran into the job's deadline; another try would only overrun it."""


@asynccontextmanager
async def within(deadline: float | None) -> AsyncIterator[None]:
    """Bound a step by the job's deadline (epoch seconds), less a second to end the job in.

    Without it one store step with its own retries could outlast the deadline by a minute
    against a store that accepts connections and never answers.
    """
    if deadline is None:  # a plan checkpointed before deadlines were part of it
        yield
        return
    left = deadline - 1.0 - time.time()
    if left <= 0:
        raise DeadlineReached("the job's deadline has passed")
    timeout = asyncio.timeout(left)
    try:
        async with timeout:
            yield
    except TimeoutError as exc:
        if timeout.expired():
            raise DeadlineReached("the job's deadline passed while storing") from exc
        raise


def plan_of(catalog: Catalog, job: Job) -> dict[str, Any]:
    """Name the result's object and what storing it needs, from the job's row.

    The key is the job's own, the same in every finish attempt: a later attempt overwrites what
    a spent one may have stored instead of leaving a file that no job refers to. The check that
    confirms an outcome adds this to it, so the plan is part of the finish workflow's durable
    input and takes no step of its own.
    """
    spec = catalog.find(job.type, job.model)
    ext = spec.extension(job.params) if spec else GenerationType(job.type).extension
    full_hd = spec is not None and spec.api == "veo" and job.params.get("resolution") == "1080p"
    return {
        "key": f"results/{job.user_id}/{job.type}/{job.id}.{ext}",
        "result_type": job.result_type,
        "deadline": job.deadline_at.timestamp(),
        "full_hd_task": job.task_id if full_hd else None,
        "placement": job.placement,
    }


@db_step("plan_result")
async def plan_result(job_id: str) -> dict[str, Any] | None:
    """The plan of a workflow started without one in its outcome (before plans came with it);
    marks the job downloading. None when the job is no longer processing."""

    def run() -> dict[str, Any] | None:
        rt = current()
        with rt.db.session() as session:
            job = repository.get(session, job_id)
            if job is None or job.status != JobStatus.PROCESSING.value:
                return None
            plan = plan_of(rt.catalog, job)
            repository.update_active(
                session, job_id, stage=JobStage.DOWNLOADING.value, updated_at=utcnow()
            )
            return plan

    return await asyncio.to_thread(run)


async def mark_downloading(job_id: str) -> bool:
    """Stage `downloading` for a job still processing; False when it ended (or is gone).

    Retried like a database step (db_step): the store step around it retries only downloads.
    """

    def run() -> bool:
        with current().db.session() as session:
            result = session.execute(
                sa.update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.PROCESSING.value)
                .values(stage=JobStage.DOWNLOADING.value, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    for pause in MARK_PAUSES_S:
        try:
            return await asyncio.to_thread(run)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("job %s: marking it downloading failed (%s); trying again", job_id, exc)
            await asyncio.sleep(pause)
    return await asyncio.to_thread(run)


@DBOS.step(
    name="store_result",
    retries_allowed=True,
    max_attempts=DOWNLOAD_ATTEMPTS,
    interval_seconds=1.0,
    backoff_rate=2.0,
    should_retry=lambda exc: isinstance(exc, DownloadFailed),
)
async def store_result_step(
    url: str, key: str, result_type: str, deadline: float | None = None, job_id: str | None = None
) -> dict[str, Any] | None:
    """Fetch the result into storage under `key`; None when the job ended before it was kept.

    With `job_id` the step also marks the job downloading, beside the fetch rather than before
    it (it is on every job's path to completion). A job that is no longer processing gets
    nothing stored: this try's file and whatever an earlier, killed try of the step left under
    the key are removed.
    """
    crash_point("P4")
    rt = current()
    marking = asyncio.ensure_future(mark_downloading(job_id)) if job_id else None
    try:
        async with within(deadline):
            stored = await store_result(
                url, rt.storage, key, policy=rt.download_policy(), result_type=result_type
            )
    except BaseException:
        if marking is not None:
            await asyncio.gather(marking, return_exceptions=True)
        raise
    if marking is not None and not await marking:
        await cleanup.discard(rt.db, rt.storage, [key], "job_ended_first")
        return None
    return {
        "size": stored.size,
        "content_type": stored.content_type,
        "width": stored.width,
        "height": stored.height,
        "sha256": stored.sha256,
    }


def needs_crop(placement_id: str, result_type: str, meta: dict[str, Any]) -> bool:
    """Whether a job's stored result must be cut to its placement's ratio. An image's size is
    known from the store step; a video's only from the file, so the crop step looks."""
    placement = placements.PLACEMENTS.get(placement_id)
    if placement is None:
        log.warning("unknown placement %r: the result is kept as made", placement_id)
        return False
    if result_type == "video" or meta.get("width") is None:
        return True
    return not placement.matches(meta["width"], meta["height"])


@DBOS.step(
    name="crop_result",
    retries_allowed=True,
    max_attempts=4,
    interval_seconds=0.5,
    should_retry=lambda exc: not isinstance(exc, CropFailed | DeadlineReached),
)
async def crop_result(
    job_id: str, key: str, placement_id: str, result_type: str, deadline: float | None = None
) -> dict[str, Any]:
    """Cut the stored result to the placement's exact ratio under the same key."""
    rt = current()
    async with within(deadline):
        await mark_storing(job_id)
        cropped = await crop_stored(rt.storage, key, placements.get(placement_id), result_type)
    return {
        "size": cropped.size,
        "sha256": cropped.sha256,
        "width": cropped.width,
        "height": cropped.height,
    }


@DBOS.step(
    name="describe_video",
    retries_allowed=True,
    max_attempts=4,
    interval_seconds=0.5,
    should_retry=lambda exc: not isinstance(exc, NotAVideo | DeadlineReached),
)
async def describe_video(job_id: str, key: str, deadline: float | None = None) -> dict[str, Any]:
    """Duration, size and a poster frame for a stored video (poster key follows the video's)."""
    async with within(deadline):
        return await _describe_video(job_id, key)


async def mark_storing(job_id: str) -> None:
    def run() -> None:
        with current().db.session() as session:
            repository.update_active(
                session, job_id, stage=JobStage.STORING.value, updated_at=utcnow()
            )

    await asyncio.to_thread(run)


async def _describe_video(job_id: str, key: str) -> dict[str, Any]:
    rt = current()
    await mark_storing(job_id)
    async with local_copy(rt.storage, key) as path:
        info = await asyncio.to_thread(probe_video, path)

    async def poster() -> AsyncIterator[bytes]:
        yield info.poster_jpeg

    await rt.storage.write(poster_key(key), poster())
    crash_point("V1")
    return {
        "width": info.width,
        "height": info.height,
        "duration_s": info.duration_s,
        "poster_path": poster_key(key),
    }


@db_step("complete_job")
async def complete_job(
    job_id: str, key: str, meta: dict[str, Any], provider_credits: float | None
) -> bool:
    crash_point("P5")

    def run() -> bool:
        with current().db.session() as session:
            if service.complete(
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
                result_sha256=meta.get("sha256"),
            ):
                return True
            # A re-run of this step after its commit finds the job completed with this very
            # result: that is our own success, not a lost race.
            return service.completed_with(session, job_id, key)

    done = await asyncio.to_thread(run)
    if not done:
        # Someone else ended the job (cancel, deadline, delete) while we stored: drop the files.
        rt = current()
        await cleanup.discard(rt.db, rt.storage, [key, meta.get("poster_path")], "job_ended_first")
    crash_point("P6")
    return done


@DBOS.step(name="discard_result")
async def discard_result(key: str, result_type: str) -> None:
    """Remove what a failed finish may have stored; what storage refuses is queued for cleanup."""
    keys = [key, poster_key(key)] if result_type == "video" else [key]
    rt = current()
    await cleanup.discard(rt.db, rt.storage, keys, "result_unavailable")


@db_step("retry_pause")
async def retry_pause(job_id: str, attempt: int) -> float | None:
    """Seconds to wait before storing again, or None when the job's deadline leaves no time.

    The last try is timed to end before the deadline, so a job whose result cannot be stored
    still ends (failed and refunded) within its deadline.
    """

    def left() -> float | None:
        with current().db.session(read_only=True) as session:
            job = repository.get(session, job_id)
            if job is None or JobStatus(job.status).is_terminal:
                return None
            return (job.deadline_at - utcnow()).total_seconds() - STORE_TRY_SPAN_S

    room = await asyncio.to_thread(left)
    if room is None or room <= 0:
        return None
    return min(RETRY_PAUSES_S[min(attempt, len(RETRY_PAUSES_S) - 1)], room)


class ResultUnavailable(Exception):
    """The result cannot be stored: refused for good, or storage stayed down until the deadline."""


T = TypeVar("T")


async def until_deadline(job_id: str, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """Run a storing step again after pauses until it succeeds or the job's deadline nears.

    A storage outage longer than the step's own retries must not end the workflow in error
    (that stranded charged jobs): it waits durably and tries again.
    """
    tries = 0
    while True:
        try:
            return await attempt()
        except (DownloadRefused, NotAVideo, CropFailed, DeadlineReached) as exc:
            raise ResultUnavailable(str(exc)) from exc
        except (
            DownloadFailed,
            StorageError,
            OSError,
            dbos_error.DBOSMaxStepRetriesExceeded,
        ) as exc:
            pause = await retry_pause(job_id, tries)
            if pause is None:
                raise ResultUnavailable(f"{what} kept failing: {exc}") from exc
            log.warning("job %s: %s failed (%s); trying again in %.0f s", job_id, what, exc, pause)
            await DBOS.sleep_async(pause)
            tries += 1


class FullHdNotReady(Exception):
    """Kie is still making the 1080p file of a finished Veo video."""


@DBOS.step(
    name="full_hd_url",
    retries_allowed=True,
    max_attempts=12,
    interval_seconds=2.0,
    backoff_rate=1.5,  # about 6 minutes in all: Kie says the 1080p file takes a few
    should_retry=lambda exc: (
        isinstance(exc, FullHdNotReady) or (isinstance(exc, ProviderError) and exc.retryable)
    ),
)
async def full_hd_url(task_id: str) -> str:
    url = await VeoApi(current().kie()).full_hd_url(task_id)
    if url is None:
        raise FullHdNotReady(task_id)
    return url


async def full_hd_or(url: str, task_id: str, job_id: str) -> str:
    """The 1080p file of a Veo job that asked for it; the 720p one when Kie cannot make it."""
    try:
        return await full_hd_url(task_id)
    except (ProviderError, FullHdNotReady, dbos_error.DBOSMaxStepRetriesExceeded) as exc:
        log.warning("job %s: no 1080p file from Kie (%s); keeping the 720p one", job_id, exc)
        return url


def poster_key(key: str) -> str:
    return key.rsplit(".", 1)[0] + ".poster.jpg"


@DBOS.workflow(name="finish_job")
async def finish_job(job_id: str, outcome: dict[str, Any]) -> None:
    """Finish a job whose outcome recordInfo confirmed, or whose deadline passed."""
    bind_job(job_id)
    credits_used = outcome.get("credits_consumed")
    if outcome["kind"] != "success":
        await fail_job(job_id, outcome["code"], outcome["message"], credits_used)
        return
    plan: dict[str, Any] | None = outcome.get("plan")
    if plan is None:
        plan = await plan_result(job_id)
        if plan is None:
            return
    key, result_type, deadline = plan["key"], plan["result_type"], plan.get("deadline")
    url: str = outcome["urls"][0]
    if plan.get("full_hd_task"):
        url = await full_hd_or(url, plan["full_hd_task"], job_id)
    try:
        stored = await until_deadline(
            job_id,
            "storing the result",
            lambda: store_result_step(url, key, result_type, deadline, job_id),
        )
        if stored is None:
            return
        meta = stored
        placement = plan.get("placement")
        if placement is not None and needs_crop(placement, result_type, meta):
            meta |= await until_deadline(
                job_id,
                "cropping the result",
                lambda: crop_result(job_id, key, placement, result_type, deadline),
            )
        if result_type == "video":
            meta |= await until_deadline(
                job_id, "describing the video", lambda: describe_video(job_id, key, deadline)
            )
    except ResultUnavailable as exc:
        log.warning("result of job %s could not be stored: %s", job_id, exc)
        # The job ends first: removing what was stored may wait on the same outage.
        await fail_job(
            job_id,
            "result_unavailable",
            "The provider's result could not be retrieved. Your credit was returned.",
            credits_used,
        )
        await discard_result(key, result_type)
        return
    await complete_job(job_id, key, meta, credits_used)
