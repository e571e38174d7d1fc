"""The durable job pipeline on DBOS, in the split shape (docs/adr/0001-durable-jobs-on-dbos.md).

submit_job: take a createTask rate-limit slot, mark the job processing, call createTask, save
the task id, end. The job then waits as a row with `next_check_at`; a callback or a due poll
(jobs/checker.py) confirms the outcome with recordInfo and starts finish_job, whose workflow id
is derived from the job id so a duplicate start is a no-op.

Every step is idempotent: guarded state transitions, a ledger keyed by (job_id, kind), and an
object key fixed by a checkpointed step.
"""

from __future__ import annotations

from typing import Any

from dbos import SetWorkflowID

from image2ad.jobs.pipeline.finish import finish_job
from image2ad.jobs.pipeline.steps import (
    CREATE_QUEUE,
    FINISH_QUEUE,
    finish_workflow_id,
    queues,
    submit_workflow_id,
    use_queues,
)
from image2ad.jobs.pipeline.submit import submit_job

__all__ = [
    "CREATE_QUEUE",
    "FINISH_QUEUE",
    "enqueue_finish",
    "enqueue_submit",
    "finish_job",
    "submit_job",
    "use_queues",
]


async def enqueue_submit(job_id: str, attempt: int) -> None:
    with SetWorkflowID(submit_workflow_id(job_id, attempt)):
        await queues[CREATE_QUEUE].enqueue_async(submit_job, job_id)


async def enqueue_finish(job_id: str, outcome: dict[str, Any]) -> None:
    with SetWorkflowID(finish_workflow_id(job_id)):
        await queues[FINISH_QUEUE].enqueue_async(finish_job, job_id, outcome)
