"""What a shared result downloads as: a pack's result by placement, ratio and variant
(`story-9x16-v2.png`, as in the owner's pack ZIP), any other by its kind and day.

Not the owner's download name (jobs/naming.py), which carries words of the prompt: a share
shows the results and nothing of how they were asked for.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath

from image2ad.models import Job
from image2ad.packs.export import member_name


def result_name(job: Job) -> str:
    if job.placement:
        return member_name(job)
    extension = PurePosixPath(job.result_path or "").suffix.lower()
    return f"image2ad-{job.result_type}-{job.created_at:%Y-%m-%d}{extension}"


def archive_name(created_at: datetime) -> str:
    return f"image2ad-pack-{created_at:%Y-%m-%d}.zip"
