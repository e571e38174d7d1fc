"""What both workflows share: queue names, workflow ids, the database-step decorator, and
ending a job as failed with its refund."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from dbos import DBOS, Queue

from image2ad.catalog import availability
from image2ad.faults import crash_point
from image2ad.jobs import repository, service
from image2ad.runtime import current

CREATE_QUEUE = "kie-create"
FINISH_QUEUE = "job-finish"

F = TypeVar("F", bound=Callable[..., Any])
queues: dict[str, Queue] = {}


def submit_workflow_id(job_id: str, attempt: int) -> str:
    return f"submit-{job_id}-{attempt}"


def finish_workflow_id(job_id: str, attempt: int = 0) -> str:
    """The first attempt keeps the original id, so workflows started before attempts existed
    are still found."""
    return f"finish-{job_id}" if attempt == 0 else f"finish-{job_id}-{attempt}"


def db_step(name: str) -> Callable[[F], F]:
    """A database step: retried, since a busy or restarting database is a passing fault."""
    decorator = DBOS.step(
        name=name, retries_allowed=True, max_attempts=8, interval_seconds=0.2, backoff_rate=2.0
    )
    return cast(Callable[[F], F], decorator)


def use_queues(*registered: Queue) -> None:
    """Called once the engine registered its queues (registration needs a launched DBOS)."""
    queues.update({q.name: q for q in registered})


@db_step("fail_job")
async def fail_job(
    job_id: str, code: str, message: str, provider_credits: float | None = None
) -> bool:
    def run() -> bool:
        with current().db.session() as session:
            return service.fail_and_refund(
                session, job_id, code=code, message=message, provider_credits=provider_credits
            )

    ended = await asyncio.to_thread(run)
    # Failure and refund are committed, the step's checkpoint is not: the re-run must find
    # the job already failed and refund nothing more.
    crash_point("F")
    return ended


@db_step("fail_model_unavailable")
async def fail_model_unavailable(job_id: str, kind: str, detail: str) -> bool:
    """Kie refused the job's model: mark the model unavailable for every process and end the
    job refunded, in one transaction, with a message naming the model and what to use."""

    def run() -> bool:
        rt = current()
        recheck = timedelta(seconds=rt.settings.jobs.model_recheck_s)
        with rt.db.session() as session:
            job = repository.get(session, job_id)
            if job is None:
                return False
            spec = rt.catalog.find(job.type, job.model)
            if spec is None:  # the catalog no longer lists it: nothing to mark
                message = f"Kie refused the model {job.model}: {detail}"
                return service.fail_and_refund(
                    session, job_id, code="model_unavailable", message=message
                )
            availability.mark_unavailable(session, spec, kind, detail, recheck)
            known = availability.statuses(session)
            message = availability.of(spec, known).reason or f"{spec.label} is unavailable."
            other = availability.instead(rt.catalog, spec, known)
            if other is not None:
                message += f" Use {other.label} (model {other.id}) instead; your credits are back."
            return service.fail_and_refund(
                session, job_id, code="model_unavailable", message=message
            )

    ended = await asyncio.to_thread(run)
    crash_point("F")
    return ended
