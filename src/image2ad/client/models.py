"""What the API answers, as the SDK sees it. Kept apart from the server's schemas so the client
imports nothing of the server; fields the server adds later are kept, not refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

TERMINAL = frozenset({"completed", "failed", "canceled"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class JobError(_Model):
    code: str
    message: str


class Job(_Model):
    id: str
    type: str
    status: str
    stage: str | None = None
    progress: int | None = None
    prompt: str
    params: dict[str, Any] = {}
    model: str
    task_id: str | None = None
    result_type: str
    result_path: str | None = None
    result_url: str | None = None
    poster_url: str | None = None
    result_content_type: str | None = None
    result_width: int | None = None
    result_height: int | None = None
    result_duration_s: float | None = None
    result_sha256: str | None = None
    source_image_url: str | None = None
    source_upload_id: str | None = None
    parent_job_id: str | None = None
    starred: bool = False
    pack_id: str | None = None
    placement: str | None = None
    variant: int | None = None
    error: JobError | None = None
    credits_charged: int
    credits_refunded: int = 0
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class JobPage(_Model):
    items: list[Job]
    next_cursor: str | None = None
    total: int | None = None


class Upload(_Model):
    id: str
    content_type: str
    size: int
    width: int
    height: int
    created_at: datetime | None = None


class Me(_Model):
    id: str
    email: str
    credits: int
    credits_low: bool | None = None


class Pack(_Model):
    id: str
    status: str
    type: str
    prompt: str
    model: str
    params: dict[str, Any] = {}
    placements: list[str]
    variants: int
    source_upload_id: str | None = None
    source_job_id: str | None = None
    credits_charged: int
    created_at: datetime
    jobs: list[Job]


class PackPage(_Model):
    items: list[Pack]
    next_cursor: str | None = None
