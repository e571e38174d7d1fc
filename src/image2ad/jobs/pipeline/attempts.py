"""Starting a job's workflows so that none can be stranded.

Workflow ids are derived from the job (and its attempt), so starting one twice is a no-op. The
catch: a workflow that already *ended* without ending its job (it errored after its retries, say
while the database or storage was down) makes every later start a no-op too, and the job waits
forever, charged. So a start first looks at the current attempt's workflow: live → nothing to
do; ended → its attempt is spent, and a new attempt (a new id) takes over, claimed with a guarded
UPDATE so only one process starts it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NamedTuple

import sqlalchemy as sa
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from image2ad.jobs.pipeline.finish import finish_job
from image2ad.jobs.pipeline.steps import (
    CREATE_QUEUE,
    FINISH_QUEUE,
    finish_workflow_id,
    queues,
    submit_workflow_id,
)
from image2ad.jobs.pipeline.submit import submit_job
from image2ad.jobs.status import ACTIVE, JobStatus
from image2ad.jobs.stuck import LIVE
from image2ad.models import Job
from image2ad.models.base import utcnow
from image2ad.runtime import Runtime, current

log = logging.getLogger(__name__)

# After this many spent finish attempts a confirmed success is given up: fail and refund.
MAX_FINISH_ATTEMPTS = 3
GIVE_UP = {
    "kind": "fail",
    "code": "finish_failed",
    "message": "The result could not be saved after several tries. Your credit was returned.",
}


class Ticket(NamedTuple):
    """What starting a job's submit workflow takes: its attempt names the workflow, its queue
    tag is the workflow's priority (jobs/queueing.py; None for jobs from before tags)."""

    job_id: str
    attempt: int
    tag: int | None

    @classmethod
    def of(cls, job: Job) -> Ticket:
        return cls(job.id, job.submit_attempts, job.queue_tag)


async def enqueue_submit(ticket: Ticket) -> None:
    fair = current().settings.jobs.fair_share
    with (
        SetWorkflowID(submit_workflow_id(ticket.job_id, ticket.attempt)),
        SetEnqueueOptions(priority=ticket.tag if fair else None),
    ):
        await queues[CREATE_QUEUE].enqueue_async(submit_job, ticket.job_id)


async def enqueue_finish(job_id: str, outcome: dict[str, Any], attempt: int = 0) -> None:
    with SetWorkflowID(finish_workflow_id(job_id, attempt)):
        await queues[FINISH_QUEUE].enqueue_async(finish_job, job_id, outcome)


async def workflow_state(workflow_id: str) -> str | None:
    status = await DBOS.get_workflow_status_async(workflow_id)
    return None if status is None else str(status.status)


async def start_finish(rt: Runtime, job: Job, outcome: dict[str, Any]) -> None:
    """Finish `job` with `outcome`, in a new attempt when the current one is spent."""
    attempt = job.finish_attempt
    state = await workflow_state(finish_workflow_id(job.id, attempt))
    if state in LIVE:
        return
    if state is not None:
        if outcome["kind"] == "success" and attempt + 1 >= MAX_FINISH_ATTEMPTS:
            outcome = {**GIVE_UP, "credits_consumed": outcome.get("credits_consumed")}
        claimed = await asyncio.to_thread(_claim_next, rt, job.id, "finish_attempt", attempt)
        if not claimed:
            return
        attempt += 1
        log.warning(
            "job %s: finish workflow ended (%s) with the job unfinished; attempt %d takes over",
            job.id,
            state,
            attempt,
        )
    await enqueue_finish(job.id, outcome, attempt)


async def start_submit(rt: Runtime, job: Job) -> None:
    """Submit a pending job, in a new attempt when the current attempt's workflow is spent.

    A pending job has not reached createTask in its current attempt, so a new attempt cannot
    send a second task.
    """
    attempt = job.submit_attempts
    state = await workflow_state(submit_workflow_id(job.id, attempt))
    if state in LIVE:
        return
    if state is not None:
        claimed = await asyncio.to_thread(
            _claim_next, rt, job.id, "submit_attempts", attempt, frozenset({JobStatus.PENDING})
        )
        if not claimed:
            return
        attempt += 1
        log.warning(
            "job %s: submit workflow ended (%s) with the job pending; attempt %d takes over",
            job.id,
            state,
            attempt,
        )
    await enqueue_submit(Ticket(job.id, attempt, job.queue_tag))


def _claim_next(
    rt: Runtime, job_id: str, column: str, seen: int, statuses: frozenset[JobStatus] = ACTIVE
) -> bool:
    """Move the job's attempt counter from `seen` to the next; False if another process did."""
    counter = getattr(Job, column)
    with rt.db.session() as session:
        result = session.execute(
            sa.update(Job)
            .where(Job.id == job_id, counter == seen, Job.status.in_([s.value for s in statuses]))
            .values({column: seen + 1, "updated_at": utcnow()})
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)
