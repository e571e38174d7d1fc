"""`image2ad jobs …`: an operator's view of unfinished jobs, and ending one by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, NoReturn

import typer

from image2ad import logs
from image2ad.config import Settings
from image2ad.db import Database
from image2ad.jobs import service, stuck, workers
from image2ad.jobs.status import JobStatus
from image2ad.models import Job
from image2ad.models.base import utcnow

jobs_app = typer.Typer(no_args_is_help=True, help="Jobs, for operators.")

OPERATOR_CODE = "failed_by_operator"


def _database() -> Database:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    return Database(settings.resolved_database_url, pool_size=2)


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = (value - now).total_seconds()
    return f"in {seconds:.0f}s" if seconds >= 0 else f"{-seconds:.0f}s ago"


@jobs_app.command("stuck")
def jobs_stuck(
    older_than: Annotated[float, typer.Option(help="Only jobs created this many s ago")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many jobs, oldest first")] = 200,
) -> None:
    """Unfinished jobs with their workflows: running, waiting (a sweeper will look again),
    overdue (past the deadline) or stranded (nothing will move it)."""
    settings = Settings()
    db = _database()
    try:
        jobs = stuck.stuck_jobs(db, older_than_s=older_than, limit=limit)
        executors = workers.executor_states(
            db, timedelta(seconds=settings.jobs.executor_dead_after_s)
        )
    finally:
        db.dispose()
    alive = frozenset(e for e, state in executors.items() if state == "alive")
    now = utcnow()
    typer.echo("JOB\tSTATUS/STAGE\tAGE\tNEXT CHECK\tDEADLINE\tCONDITION\tWORKFLOWS")
    for job in jobs:
        flows = " ".join(
            f"{w.workflow_id}={w.status}@{w.executor_id or '-'}"
            f"({executors.get(w.executor_id or '', 'gone')})"
            for w in job.workflows
        )
        typer.echo(
            f"{job.job_id}\t{job.status}/{job.stage or '-'}\t{job.age_s(now):.0f}s\t"
            f"{_when(job.next_check_at, now)}\t{_when(job.deadline_at, now)}\t"
            f"{job.condition(now, alive)}\t{flows or '-'}"
        )
    counts: dict[str, int] = {}
    for job in jobs:
        condition = job.condition(now, alive)
        counts[condition] = counts.get(condition, 0) + 1
    summary = ", ".join(f"{n} {c}" for c, n in sorted(counts.items())) or "none"
    typer.echo(f"{len(jobs)} unfinished job(s): {summary}")


@jobs_app.command("fail")
def jobs_fail(
    job_id: str,
    reason: Annotated[str, typer.Option(help="Shown to the user as the job's error message")],
    refund: Annotated[
        bool, typer.Option("--refund", help="Required: a failed job is always refunded")
    ] = False,
) -> None:
    """End an unfinished job as failed and refund its credits once (like a cancel)."""
    if not refund:
        typer.secho(
            "error: a failed job is always refunded (the ledger holds a refund exactly for "
            "failed and canceled jobs); pass --refund to confirm",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    if not reason.strip():
        typer.secho("error: --reason must not be empty", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    db = _database()
    try:
        with db.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                _refuse(f"no job {job_id}")
            if JobStatus(job.status).is_terminal:
                _refuse(f"job {job_id} is already {job.status}; nothing changed")
            if not service.fail_and_refund(
                session, job_id, code=OPERATOR_CODE, message=reason.strip()
            ):
                session.refresh(job)
                _refuse(f"job {job_id} ended ({job.status}) meanwhile; nothing changed")
            session.refresh(job)
            credits = job.credits_refunded
    finally:
        db.dispose()
    typer.echo(f"job {job_id} failed ({OPERATOR_CODE}); refunded {credits} credit(s)")


def _refuse(message: str) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)
