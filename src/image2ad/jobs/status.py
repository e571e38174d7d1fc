"""Job states and stages: one enum each, and the transitions the pipeline may make."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})


class JobStage(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    WAITING = "waiting"
    GENERATING = "generating"
    DOWNLOADING = "downloading"
    STORING = "storing"


# Every status change in the pipeline is a guarded UPDATE … WHERE status IN (allowed sources),
# so a late or duplicate event can never move a job backwards.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.CANCELED}),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.PENDING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}


def sources_of(target: JobStatus) -> list[str]:
    """The statuses a job may be in for a move to `target`."""
    return [s.value for s, targets in TRANSITIONS.items() if target in targets]
