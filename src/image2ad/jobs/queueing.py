"""The fair createTask queue: whose job goes to Kie next, and when a waiting job should start.

Kie allows one createTask pace per account (send_gate.py), shared by every user. Served first
come, first served, one user's 100 queued jobs (or a 20-job pack) held everyone else's single
jobs behind them for a minute. Instead each job gets a *tag* when it is accepted and the submit
workflow is enqueued with it as its priority (lower goes first; DBOS breaks ties by enqueue
time):

- a user's next job is tagged one past that user's last waiting job, so a user's own jobs keep
  their order;
- but never below the lowest tag still waiting (the head of the queue), so a user who had
  nothing waiting joins the current round instead of starting from round one.

The result is round-robin between users: the first job of a user with an empty queue goes out
after the jobs already at the head (at most one per busy user), and busy users share the rest
one job each per round. A job sent back to the queue (Kie was busy) keeps its tag: it is at the
head again. The engine keeps only a couple of pace slots' worth of submissions in flight
(engine.create_in_flight), so the queue order is the order in which jobs reach Kie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.jobs.status import JobStatus
from image2ad.models import Job, SendGate
from image2ad.providers.kie.send_gate import Gate

WAITING = JobStatus.PENDING.value
# A job's place is worked out for at most this many jobs at once (one query); any further
# waiting jobs in a listing show no estimate rather than cost one query each.
MAX_PLACES = 100


@dataclass(frozen=True)
class SendQueue:
    """The createTask queue as configured: its pace, and whether users take turns
    (IMAGE2AD_JOBS_FAIR_SHARE) or jobs go strictly in arrival order."""

    gate: Gate
    fair: bool


@dataclass(frozen=True)
class Place:
    """Where a waiting job stands: 1 means it is the next to be sent."""

    position: int
    estimated_start_at: datetime


def next_tag(session: Session, user_id: str) -> int:
    """The tag of a job `user_id` is adding now (call before the job row has its own tag)."""
    head = session.scalar(sa.select(sa.func.min(Job.queue_tag)).where(Job.status == WAITING))
    last = session.scalar(
        sa.select(sa.func.max(Job.queue_tag)).where(Job.status == WAITING, Job.user_id == user_id)
    )
    return max(head or 1, (last or 0) + 1)


def _ahead_of(job: Job, fair: bool) -> sa.ScalarSelect[int]:
    """How many waiting jobs go before `job`: lower tag, or the same tag and older. Jobs from
    before tags existed have none and are sent first (priority 0). Without turns: older."""
    tag = job.queue_tag or 0
    before = (
        sa.or_(
            Job.queue_tag.is_(None),
            Job.queue_tag < tag,
            sa.and_(Job.queue_tag == tag, Job.created_at < job.created_at),
        )
        if fair
        else Job.created_at < job.created_at
    )
    query = sa.select(sa.func.count()).select_from(Job)
    return query.where(Job.status == WAITING, Job.id != job.id, before).scalar_subquery()


def places(
    session: Session, jobs: Sequence[Job], queue: SendQueue, now: datetime
) -> dict[str, Place]:
    """The place of each waiting job in `jobs` (others are left out), in one query.

    The estimate assumes every job ahead takes one slot of the send gate's pace, from the
    gate's next free moment: it is what the pace allows, not a promise (a job sent back to the
    queue, or a pause while Kie refuses, moves it later).
    """
    waiting = [job for job in jobs if job.status == WAITING and job.queue_tag is not None]
    waiting = waiting[:MAX_PLACES]
    if not waiting:
        return {}
    gate = queue.gate
    next_free = sa.select(SendGate.next_at).where(SendGate.name == gate.name).scalar_subquery()
    aheads = [_ahead_of(job, queue.fair) for job in waiting]
    row = session.execute(sa.select(next_free, *aheads)).one()
    start = max(now, row[0] or now)
    return {
        job.id: Place(position=ahead + 1, estimated_start_at=start + gate.gap * ahead)
        for job, ahead in zip(waiting, row[1:], strict=True)
    }
