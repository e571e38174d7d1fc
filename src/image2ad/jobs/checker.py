"""Confirming provider outcomes: a callback or a due poll runs `check_job`, and the sweeper
finds due, stalled and overdue jobs. Checks are cheap and repeatable; only finish_job is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from image2ad.jobs import model_checks, pipeline, repository, service, workers
from image2ad.jobs.pipeline.finish import plan_of
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models import Job
from image2ad.models.base import utcnow
from image2ad.providers.base import TaskRecord, TaskState
from image2ad.providers.errors import ProviderError, ProviderTaskNotFound
from image2ad.runtime import Runtime
from image2ad.storage import cleanup
from image2ad.webhooks.relay import Relay

log = logging.getLogger(__name__)

# A task Kie does not know yet right after creation is normal; much later it means it is gone.
NOT_FOUND_PATIENCE = timedelta(minutes=2)
SWEEP_BATCH = 200
CLEANUP_INTERVAL_S = 10.0
# How often a worker looks for refused models whose re-check is due (model_recheck_s apart).
MODEL_CHECK_INTERVAL_S = 5.0
# How long past its deadline a job's live finish workflow may still end it by itself.
OVERDUE_GRACE = timedelta(seconds=5)


def outcome_of(record: TaskRecord) -> dict[str, Any]:
    if record.state == TaskState.SUCCESS and record.result_urls:
        return {
            "kind": "success",
            "urls": record.result_urls,
            "credits_consumed": record.credits_consumed,
        }
    if record.state == TaskState.SUCCESS:
        return {
            "kind": "fail",
            "code": "provider_no_result",
            "message": "The provider finished without a result file.",
            "credits_consumed": record.credits_consumed,
        }
    reason = record.fail_message or "The provider could not generate this."
    code = f"provider_failed_{record.fail_code}" if record.fail_code else "provider_failed"
    return {
        "kind": "fail",
        "code": code,
        "message": reason,
        "credits_consumed": record.credits_consumed,
    }


def next_interval(rt: Runtime, poll_count: int) -> timedelta:
    schedule = rt.poll_schedule()
    return timedelta(seconds=schedule[min(poll_count, len(schedule) - 1)])


async def check_job(
    rt: Runtime, job_id: str, purpose: str = "poll", job: Job | None = None
) -> None:
    """Ask Kie for the task's state; finish the job when it is terminal, else reschedule.

    `job` is the row as the caller just read it (a callback), saving a second read.
    """
    if job is None:
        job = await asyncio.to_thread(_load, rt, job_id)
    if job is None or job.status != JobStatus.PROCESSING.value or not job.task_id:
        return
    try:
        async with rt.query_limiter(purpose):
            record = await rt.task_api(rt.api_of(job.type, job.model)).record_info(job.task_id)
    except ProviderTaskNotFound:
        if job.submitted_at and utcnow() - job.submitted_at > NOT_FOUND_PATIENCE:
            await pipeline.start_finish(
                rt,
                job,
                {
                    "kind": "fail",
                    "code": "provider_task_lost",
                    "message": "The provider lost track of this generation.",
                },
            )
        else:
            await asyncio.to_thread(_reschedule, rt, job, None)
        return
    except ProviderError as exc:
        log.info("recordInfo for job %s failed (%s); will retry", job_id, exc.code)
        await asyncio.to_thread(_reschedule, rt, job, None)
        return
    if record.state.is_terminal:
        outcome = outcome_of(record)
        if outcome["kind"] == "success":
            outcome["plan"] = plan_of(rt.catalog, job)
        await pipeline.start_finish(rt, job, outcome)
        return
    await asyncio.to_thread(_reschedule, rt, job, record)


def _load(rt: Runtime, job_id: str) -> Job | None:
    with rt.db.session(read_only=True) as session:
        return repository.get(session, job_id)


def _reschedule(rt: Runtime, job: Job, record: TaskRecord | None) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "poll_count": job.poll_count + 1,
        "next_check_at": now + next_interval(rt, job.poll_count + 1),
        "updated_at": now,
    }
    if record is not None:
        if record.state == TaskState.GENERATING:
            values["stage"] = JobStage.GENERATING.value
        if record.progress is not None:
            values["progress"] = max(0, min(100, record.progress))
    with rt.db.session() as session:
        repository.update_active(session, job.id, **values)


async def adopt_orphan(rt: Runtime, job_id: str, task_id: str) -> bool:
    """A callback named this job's URL with a task id we never saved (crash after createTask)."""
    job = await asyncio.to_thread(_load, rt, job_id)
    if job is None:
        return False
    try:
        async with rt.query_limiter("callback"):
            record = await rt.task_api(rt.api_of(job.type, job.model)).record_info(task_id)
    except ProviderError:
        return False
    callback = str((record.param or {}).get("callBackUrl") or "")
    if f"/callbacks/kie/{job_id}/" not in callback:
        return False
    # A task of an earlier attempt stays an orphan once the job was sent again: adopting it
    # while the new attempt's createTask is in flight would leave that task paid and unused.
    tagged = parse_qs(urlsplit(callback).query).get("attempt", [])
    attempt = int(tagged[0]) if tagged and tagged[0].isdigit() else None

    def save() -> bool:
        with rt.db.session() as session:
            return repository.adopt_task(session, job_id, task_id, utcnow(), attempt=attempt)

    adopted = await asyncio.to_thread(save)
    if adopted:
        log.warning("job %s adopted orphan provider task %s", job_id, task_id)
    return adopted


class Sweeper:
    """Periodic work of a worker process: due polls, stalled submissions, deadlines, retention."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_retention = 0.0
        self._last_cleanup = 0.0
        self._cleanup: asyncio.Task[None] | None = None
        self._last_beat = -1e9
        self._last_model_check = -1e9
        self._model_check: asyncio.Task[None] | None = None
        self.webhooks = Relay(rt)

    async def run_forever(self) -> None:
        interval = self.rt.settings.jobs.sweep_interval_s
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=interval)
            self.wake.clear()

    async def sweep_once(self) -> None:
        now = utcnow()
        overdue, due = await asyncio.to_thread(self._select, now)
        for job in overdue:
            kind = "video" if job.result_type == "video" else "image"
            outcome = {
                "kind": "fail",
                "code": "deadline_exceeded",
                "message": f"The {kind} was not ready in time. Your credit was returned.",
            }
            if now - job.deadline_at > OVERDUE_GRACE:
                # Its finish workflow had its chance and is stuck (say, in the engine's own
                # retries after a database outage): the deadline is the promise, so the job
                # ends here; a workflow that comes back later finds it ended.
                await asyncio.to_thread(self._fail_overdue, job, outcome)
                continue
            # A job whose finish workflow ended without ending it gets a new attempt here.
            await pipeline.start_finish(self.rt, job, outcome)
        # Claim only the polls this worker can send before the next sweep; the rest stay due
        # (oldest first), instead of piling up behind the rate limiter and outliving their lease.
        poll_room = int(self.rt.poll_query_rate() * self.rt.settings.jobs.sweep_interval_s) + 1
        poll_room -= len(self._tasks)
        for job in due:
            polls = job.status == JobStatus.PROCESSING.value and job.task_id
            if polls and poll_room <= 0:
                continue
            if not await asyncio.to_thread(self._claim, job):
                continue
            if job.status == JobStatus.PENDING.value:
                await pipeline.start_submit(self.rt, job)
            elif job.task_id:
                poll_room -= 1
                self._spawn(check_job(self.rt, job.id))
            else:
                await asyncio.to_thread(self._resubmit_orphaned, job)
        self.webhooks.poke()
        await self._retention()
        await self._cleanups()
        await self._model_checks()
        await self._workers()

    def _select(self, now: Any) -> tuple[list[Job], list[Job]]:
        with self.rt.db.session() as session:
            overdue = repository.overdue_jobs(session, now, SWEEP_BATCH)
            overdue_ids = {j.id for j in overdue}
            due = [
                j for j in repository.due_jobs(session, now, SWEEP_BATCH) if j.id not in overdue_ids
            ]
            return overdue, due

    def _fail_overdue(self, job: Job, outcome: dict[str, str]) -> None:
        with self.rt.db.session() as session:
            ended = service.fail_and_refund(
                session, job.id, code=outcome["code"], message=outcome["message"]
            )
        if ended:
            log.warning("job %s failed at its deadline with its finish workflow still live", job.id)

    def _claim(self, job: Job) -> bool:
        assert job.next_check_at is not None
        with self.rt.db.session() as session:
            return repository.claim_check(
                session,
                job.id,
                job.next_check_at,
                utcnow() + timedelta(seconds=self.rt.settings.jobs.check_lease_s),
            )

    def _resubmit_orphaned(self, job: Job) -> None:
        """No callback adopted the uncertain createTask within the grace period: submit again."""
        now = utcnow()
        with self.rt.db.session() as session:
            repository.transition(
                session,
                job.id,
                JobStatus.PENDING,
                stage=JobStage.QUEUED.value,
                submit_attempts=job.submit_attempts + 1,
                next_check_at=now,
                updated_at=now,
            )
        log.warning("job %s resubmitted after an uncertain createTask", job.id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retention(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_retention < 3600:
            return
        self._last_retention = loop_time
        from image2ad.jobs.engine import delete_finished_workflows

        await delete_finished_workflows(self.rt.settings.jobs.workflow_retention_h)
        with self.rt.db.session() as session:
            repository.purge_expired_idempotency(session, utcnow())

    async def _cleanups(self) -> None:
        """Retry queued deletions beside the sweep: a store that is down must not delay it."""
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_cleanup < CLEANUP_INTERVAL_S:
            return
        if self._cleanup is not None and not self._cleanup.done():
            return
        self._last_cleanup = loop_time
        self._cleanup = asyncio.get_running_loop().create_task(self._sweep_cleanups())

    async def _sweep_cleanups(self) -> None:
        try:
            await cleanup.sweep(self.rt.db, self.rt.storage)
        except Exception:
            log.exception("storage cleanup sweep failed")

    async def _model_checks(self) -> None:
        """Probe the models Kie refused, beside the sweep (a probe waits for a create slot)."""
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_model_check < MODEL_CHECK_INTERVAL_S:
            return
        if self._model_check is not None and not self._model_check.done():
            return
        self._last_model_check = loop_time
        self._model_check = asyncio.get_running_loop().create_task(self._recheck_models())

    async def _recheck_models(self) -> None:
        try:
            await model_checks.recheck_due(self.rt)
        except Exception:
            log.exception("model re-check failed")

    async def _workers(self) -> None:
        jobs = self.rt.settings.jobs
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_beat < jobs.heartbeat_s:
            return
        self._last_beat = loop_time
        await asyncio.to_thread(workers.beat, self.rt)
        self.rt.live_workers = await asyncio.to_thread(
            workers.count_live, self.rt, timedelta(seconds=jobs.executor_dead_after_s)
        )
        await workers.recover_dead(self.rt, timedelta(seconds=jobs.executor_dead_after_s))

    async def aclose(self) -> None:
        background = [t for t in (self._cleanup, self._model_check) if t is not None]
        tasks = [*self._tasks, *background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.webhooks.aclose()
