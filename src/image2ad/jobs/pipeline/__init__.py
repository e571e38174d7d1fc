"""The durable job pipeline on DBOS, in the split shape (docs/adr/0001-durable-jobs-on-dbos.md).

submit_job: take a createTask rate-limit slot, mark the job processing, call createTask, save
the task id, end. The job then waits as a row with `next_check_at`; a callback or a due poll
(jobs/checker.py) confirms the outcome with recordInfo and starts finish_job, whose workflow id
is derived from the job id (and its finish attempt) so a duplicate start is a no-op; a start
that finds the attempt's workflow ended with the job unfinished begins a new attempt
(attempts.py), so no job is stranded.

Every step is idempotent: guarded state transitions, a ledger keyed by (job_id, kind), and an
object key fixed by a checkpointed step.
"""

from __future__ import annotations

from image2ad.jobs.pipeline.attempts import (
    Ticket,
    enqueue_submit,
    start_finish,
    start_submit,
)
from image2ad.jobs.pipeline.finish import finish_job
from image2ad.jobs.pipeline.steps import CREATE_QUEUE, FINISH_QUEUE, use_queues
from image2ad.jobs.pipeline.submit import submit_job

__all__ = [
    "CREATE_QUEUE",
    "FINISH_QUEUE",
    "Ticket",
    "enqueue_submit",
    "finish_job",
    "start_finish",
    "start_submit",
    "submit_job",
    "use_queues",
]
