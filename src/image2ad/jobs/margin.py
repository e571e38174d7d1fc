"""Credits taken from users against Kie credits spent, per type and model (`report margin`),
and per day as well for the admin console."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.catalog import Catalog
from image2ad.jobs.status import JobStatus
from image2ad.models import Job

# 1 Kie credit is about half a US cent (kie-models.md, top).
KIE_CREDIT_USD = 0.005


@dataclass
class MarginRow:
    type: str
    model: str
    jobs: int = 0
    completed: int = 0
    credits_taken: int = 0
    kie_credits: float = 0.0
    # Completed jobs Kie reported no cost for (Veo's record has none): priced from the catalog.
    estimated_jobs: int = 0
    # The UTC date the jobs were created (YYYY-MM-DD) when broken down by day, else "".
    day: str = ""

    @property
    def kie_usd(self) -> float:
        return self.kie_credits * KIE_CREDIT_USD


def margin(
    session: Session, catalog: Catalog, since: datetime | None, *, by_day: bool = False
) -> list[MarginRow]:
    """Finished jobs created since `since`, per type and model (and per day, newest first)."""
    query = sa.select(
        Job.created_at,
        Job.type,
        Job.model,
        Job.status,
        Job.params,
        Job.credits_charged,
        Job.credits_refunded,
        Job.provider_credits_consumed,
    ).where(Job.status.in_([s.value for s in JobStatus if s.is_terminal]))
    if since is not None:
        query = query.where(Job.created_at >= since)
    rows: dict[tuple[str, str, str], MarginRow] = defaultdict(lambda: MarginRow("", ""))
    for job in session.execute(query.execution_options(yield_per=1000)):
        day = job.created_at.date().isoformat() if by_day else ""
        row = rows[(day, job.type, job.model)]
        row.type, row.model, row.day = job.type, job.model, day
        row.jobs += 1
        row.credits_taken += job.credits_charged - job.credits_refunded
        completed = job.status == JobStatus.COMPLETED.value
        row.completed += completed
        if job.provider_credits_consumed is not None:
            row.kie_credits += job.provider_credits_consumed
        elif completed:
            spec = catalog.find(job.type, job.model)
            estimate = spec.kie_credits(job.params) if spec is not None else None
            if estimate is not None:
                row.kie_credits += estimate
                row.estimated_jobs += 1
    by_type = sorted(rows.values(), key=lambda r: (r.type, -r.credits_taken, r.model))
    return sorted(by_type, key=lambda r: r.day, reverse=True)


def total(rows: list[MarginRow], label: str = "TOTAL") -> MarginRow:
    summed = MarginRow(label, "")
    for row in rows:
        summed.jobs += row.jobs
        summed.completed += row.completed
        summed.credits_taken += row.credits_taken
        summed.kie_credits += row.kie_credits
        summed.estimated_jobs += row.estimated_jobs
    return summed
