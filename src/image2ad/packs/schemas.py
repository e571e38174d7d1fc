from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from image2ad.catalog import GenerationType
from image2ad.jobs.schemas import JobOut, ParamName, ParamValue

MAX_VARIANTS = 4
PackStatus = Literal["processing", "completed", "partial", "failed"]


class PackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: GenerationType
    prompt: str = Field(min_length=1, max_length=20000)
    model: str | None = Field(None, max_length=100, description="A model id; absent = default")
    params: dict[ParamName, ParamValue] | None = Field(
        None,
        max_length=16,
        description="The model's parameters, except aspect_ratio: each placement sets its own",
    )
    placements: list[str] = Field(
        min_length=1,
        max_length=5,
        description="Placement ids: feed (1:1), portrait (4:5), story (9:16), landscape (16:9), "
        "link (1.91:1)",
    )
    variants: int = Field(1, ge=1, le=MAX_VARIANTS, description="Jobs per placement")
    source_upload_id: str | None = Field(None, max_length=64)
    source_job_id: str | None = Field(
        None, max_length=64, description="Instead of source_upload_id: a completed image job"
    )


class PackQuoteCreate(PackCreate):
    """A pack body; the prompt may be left out, since it does not change the price."""

    prompt: str = Field("", max_length=20000)


class PlannedJob(BaseModel):
    placement: str
    variant: int
    model: str
    params: dict[str, Any]
    credits: int


class PackQuoteOut(BaseModel):
    credits: int = Field(description="What creating this pack charges in all")
    jobs: list[PlannedJob]


class PackOut(BaseModel):
    id: str
    status: PackStatus = Field(
        description="processing while any job runs; then completed (all), partial (some) or "
        "failed (none completed)"
    )
    type: GenerationType
    prompt: str
    model: str
    params: dict[str, Any]
    placements: list[str]
    variants: int
    source_upload_id: str | None
    source_job_id: str | None
    credits_charged: int
    created_at: datetime
    jobs: list[JobOut] = Field(description="Ordered by placement as asked, then variant")


class PackList(BaseModel):
    items: list[PackOut]
    next_cursor: str | None
