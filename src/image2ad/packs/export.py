"""A pack's finished results as ZIP members, named by placement and variant."""

from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from image2ad.jobs.export import Entry
from image2ad.jobs.naming import slug
from image2ad.jobs.status import JobStatus
from image2ad.models import Job, Pack
from image2ad.packs import repository
from image2ad.placements import PLACEMENTS


def member_name(job: Job) -> str:
    """`story-9x16-v2.png`: the placement, its ratio and the variant."""
    placement = PLACEMENTS.get(job.placement or "")
    ratio = placement.ratio_label.replace(":", "x") if placement else ""
    suffix = PurePosixPath(str(job.result_path)).suffix.lower()
    parts = [job.placement or "result", ratio, f"v{job.variant or 1}"]
    return "-".join(p for p in parts if p) + suffix


def archive_name(pack: Pack) -> str:
    words = slug(pack.prompt, 40) or "pack"
    return f"image2ad-pack-{words}-{pack.created_at:%Y-%m-%d}.zip"


def entries(session: Session, pack: Pack) -> list[Entry]:
    """The pack's completed results, in grid order (placements as asked, then variants)."""
    rank = {p: i for i, p in enumerate(pack.placements)}
    done = sorted(
        (
            j
            for j in repository.jobs_of(session, [pack.id])
            if j.status == JobStatus.COMPLETED.value and j.result_path
        ),
        key=lambda j: (rank.get(j.placement or "", 99), j.variant or 0),
    )
    return [
        Entry(
            job_id=j.id,
            key=str(j.result_path),
            name=member_name(j),
            modified=j.completed_at or j.created_at,
            size=j.result_size,
        )
        for j in done
    ]
