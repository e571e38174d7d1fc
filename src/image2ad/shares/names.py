"""What a shared result downloads as: its placement, ratio and variant (`story-9x16-v2.png`).

Not the owner's download name (jobs/naming.py), which carries words of the prompt: a share
shows the results and nothing of how they were asked for.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath

from image2ad import placements


def result_name(
    *,
    key: str,
    result_type: str,
    placement: str | None,
    variant: int | None,
    created_at: datetime,
) -> str:
    extension = PurePosixPath(key).suffix.lower()
    made_for = placements.PLACEMENTS.get(placement or "")
    if made_for is None:
        return f"image2ad-{result_type}-{created_at:%Y-%m-%d}{extension}"
    ratio = made_for.ratio_label.replace(":", "x")
    return f"{made_for.id}-{ratio}-v{variant or 1}{extension}"


def archive_name(created_at: datetime) -> str:
    return f"image2ad-pack-{created_at:%Y-%m-%d}.zip"
