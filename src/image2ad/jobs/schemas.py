from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from image2ad.catalog import GenerationType
from image2ad.jobs.status import JobStage, JobStatus

ParamName = Annotated[str, StringConstraints(min_length=1, max_length=40)]
ParamValue = Annotated[str, StringConstraints(max_length=40)] | int | bool | None


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: GenerationType
    prompt: str = Field(min_length=1, max_length=20000)
    model: str | None = Field(
        None, max_length=100, description="A model id from /api/v1/models; absent = the default"
    )
    params: dict[ParamName, ParamValue] | None = Field(
        None,
        max_length=16,
        description="The model's own parameters (see its `params` in /api/v1/models)",
    )
    aspect_ratio: str | None = Field(None, max_length=32)
    output_format: str | None = Field(None, max_length=16)
    n_frames: str | None = Field(None, max_length=8)
    remove_watermark: bool | None = None
    source_upload_id: str | None = Field(None, max_length=64)
    source_job_id: str | None = Field(
        None,
        max_length=64,
        description="Instead of source_upload_id: a completed image job of yours, whose result "
        "becomes the reference image",
    )

    def user_params(self) -> dict[str, Any]:
        return {
            "aspect_ratio": self.aspect_ratio,
            "output_format": self.output_format,
            "n_frames": self.n_frames,
            "remove_watermark": self.remove_watermark,
        }


class QuoteCreate(JobCreate):
    """A job body; the prompt may be left out, since it does not change the price."""

    prompt: str = Field("", max_length=20000)


class QuoteOut(BaseModel):
    credits: int = Field(description="What creating this job charges")
    model: str = Field(description="The model that would run it (a fallback when routed)")
    params: dict[str, Any] = Field(description="The parameters it would run with")


class JobError(BaseModel):
    code: str
    message: str


class JobOut(BaseModel):
    id: str
    type: GenerationType
    status: JobStatus
    stage: JobStage | None
    progress: int | None
    prompt: str
    params: dict[str, Any]
    model: str
    task_id: str | None
    result_type: Literal["image", "video"]
    result_path: str | None
    result_url: str | None = Field(description="Signed, short-lived link to the result")
    poster_url: str | None = Field(description="Signed link to a video's poster frame (JPEG)")
    result_content_type: str | None
    result_width: int | None
    result_height: int | None
    result_duration_s: float | None
    source_image_url: str | None
    source_upload_id: str | None
    parent_job_id: str | None = Field(description="The job whose result this one started from")
    starred: bool
    pack_id: str | None = Field(None, description="The pack this job was made in")
    placement: str | None = Field(
        None, description="In a pack: the placement whose exact ratio the result has"
    )
    variant: int | None = Field(None, description="In a pack: which variant (1 to 4) this is")
    result_sha256: str | None = Field(None, description="SHA-256 of the stored result file")
    error: JobError | None
    queue_position: int | None = Field(
        None,
        description="While the job waits to be sent to the provider: its place in the shared "
        "queue (1 = next). Users take turns, so a user's first job is near the front.",
    )
    estimated_start_at: datetime | None = Field(
        None,
        description="While the job waits: when it should be sent, at the provider's pace",
    )
    credits_charged: int
    credits_refunded: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class JobList(BaseModel):
    items: list[JobOut]
    next_cursor: str | None
    total: int | None = Field(
        None,
        description="How many jobs match the filters (all pages); only with include_total=true",
        exclude_if=lambda total: total is None,
    )
