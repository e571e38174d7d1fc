"""Credits taken from users against Kie credits spent, per type and model (`report margin`)."""

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

    @property
    def kie_usd(self) -> float:
        return self.kie_credits * KIE_CREDIT_USD


def margin(session: Session, catalog: Catalog, since: datetime | None) -> list[MarginRow]:
    query = sa.select(
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
    rows: dict[tuple[str, str], MarginRow] = defaultdict(lambda: MarginRow("", ""))
    for job in session.execute(query.execution_options(yield_per=1000)):
        row = rows[(job.type, job.model)]
        row.type, row.model = job.type, job.model
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
    return sorted(rows.values(), key=lambda r: (r.type, -r.credits_taken, r.model))
