"""Unfinished jobs beside the durable workflows that should be moving them.

Read straight from the workflow engine's system table (DBOS's `workflow_status`, in the schema
`dbos` on PostgreSQL and beside our tables on SQLite), so it needs no running engine: the
`image2ad jobs stuck` command and a process's own checks use the same lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.db import Database, is_sqlite
from image2ad.jobs.status import ACTIVE
from image2ad.models import Job
from image2ad.models.base import utcnow

LIVE = frozenset({"PENDING", "ENQUEUED", "DELAYED"})
CHUNK = 100


@dataclass(frozen=True)
class WorkflowState:
    workflow_id: str
    status: str  # PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED
    executor_id: str | None
    updated_at: datetime | None
    recovery_attempts: int

    @property
    def live(self) -> bool:
        return self.status in LIVE


@dataclass(frozen=True)
class UnfinishedJob:
    job_id: str
    user_id: str
    status: str
    stage: str | None
    task_id: str | None
    created_at: datetime
    next_check_at: datetime | None
    deadline_at: datetime | None
    workflows: list[WorkflowState] = field(default_factory=list)

    @property
    def live_workflow(self) -> bool:
        return any(w.live for w in self.workflows)

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or utcnow()) - self.created_at).total_seconds()

    def overdue(self, now: datetime | None = None) -> bool:
        return self.deadline_at is not None and self.deadline_at <= (now or utcnow())

    @property
    def waiting(self) -> bool:
        """Nothing has to run for it now: a sweeper will look at it again at next_check_at."""
        return self.next_check_at is not None and not self.live_workflow

    def condition(
        self, now: datetime | None = None, alive_executors: frozenset[str] | None = None
    ) -> str:
        """One word for an operator: running, awaiting-takeover (its workflow's process is
        gone), waiting (a sweeper looks again at next_check_at), overdue or stranded."""
        if self.live_workflow:
            if alive_executors is not None and all(
                w.status == "PENDING" and w.executor_id not in alive_executors
                for w in self.workflows
                if w.live
            ):
                return "awaiting-takeover"
            return "running"
        if self.overdue(now):
            return "overdue"
        return "waiting" if self.waiting else "stranded"


def unfinished_jobs(
    session: Session, *, older_than_s: float = 0, limit: int = 200
) -> list[UnfinishedJob]:
    """Jobs not yet completed, failed or canceled, oldest first."""
    active = [s.value for s in ACTIVE]
    query = sa.select(Job).where(Job.status.in_(active)).order_by(Job.created_at).limit(limit)
    if older_than_s > 0:
        query = query.where(Job.created_at <= utcnow() - timedelta(seconds=older_than_s))
    return [
        UnfinishedJob(
            job_id=job.id,
            user_id=job.user_id,
            status=job.status,
            stage=job.stage,
            task_id=job.task_id,
            created_at=job.created_at,
            next_check_at=job.next_check_at,
            deadline_at=job.deadline_at,
        )
        for job in session.scalars(query)
    ]


def workflow_table(db: Database) -> sa.Table:
    schema = None if is_sqlite(db.url) else "dbos"
    return sa.Table(
        "workflow_status",
        sa.MetaData(),
        sa.Column("workflow_uuid", sa.Text, primary_key=True),
        sa.Column("status", sa.Text),
        sa.Column("executor_id", sa.Text),
        sa.Column("updated_at", sa.BigInteger),
        sa.Column("recovery_attempts", sa.BigInteger),
        schema=schema,
    )


def job_workflows(db: Database, job_ids: Iterable[str]) -> dict[str, list[WorkflowState]]:
    """Each job's submit (`submit-{id}-{attempt}`) and finish (`finish-{id}…`) workflows."""
    table = workflow_table(db)
    found: dict[str, list[WorkflowState]] = {}
    ids = list(job_ids)
    if not ids or not _engine_ran(db, table):
        return found
    with db.session(read_only=True) as session:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            patterns = [f"submit-{i}-%" for i in chunk] + [f"finish-{i}%" for i in chunk]
            rows = session.execute(
                sa.select(table).where(sa.or_(*(table.c.workflow_uuid.like(p) for p in patterns)))
            )
            for row in rows:
                job_id = _job_of(row.workflow_uuid, chunk)
                if job_id is not None:
                    found.setdefault(job_id, []).append(_state(row))
    for states in found.values():
        states.sort(key=lambda w: w.updated_at or datetime.min.replace(tzinfo=UTC))
    return found


def _engine_ran(db: Database, table: sa.Table) -> bool:
    """The engine creates its tables when a process first starts; before that there are none."""
    return sa.inspect(db.engine).has_table(table.name, schema=table.schema)


def _job_of(workflow_id: str, job_ids: list[str]) -> str | None:
    for job_id in job_ids:
        if workflow_id.startswith((f"submit-{job_id}-", f"finish-{job_id}")):
            return job_id
    return None


def _state(row: sa.Row[tuple[object, ...]]) -> WorkflowState:
    updated = row.updated_at
    return WorkflowState(
        workflow_id=str(row.workflow_uuid),
        status=str(row.status),
        executor_id=row.executor_id,
        updated_at=datetime.fromtimestamp(updated / 1000, UTC) if updated else None,
        recovery_attempts=int(row.recovery_attempts or 0),
    )


def stuck_jobs(db: Database, *, older_than_s: float = 0, limit: int = 200) -> list[UnfinishedJob]:
    """Unfinished jobs with their workflows filled in."""
    with db.session(read_only=True) as session:
        jobs = unfinished_jobs(session, older_than_s=older_than_s, limit=limit)
    workflows = job_workflows(db, [j.job_id for j in jobs])
    return [
        UnfinishedJob(**{**job.__dict__, "workflows": workflows.get(job.job_id, [])})
        for job in jobs
    ]


def pending_of_executor(db: Database, executor_id: str) -> int:
    """Workflows still marked as running on one executor (left over after a stop)."""
    table = workflow_table(db)
    if not _engine_ran(db, table):
        return 0
    with db.session(read_only=True) as session:
        count = session.scalar(
            sa.select(sa.func.count()).where(
                table.c.executor_id == executor_id, table.c.status == "PENDING"
            )
        )
    return int(count or 0)
