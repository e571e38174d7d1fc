from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_EXPIRES_S = 60
DEFAULT_EXPIRES_S = 7 * 24 * 3600
MAX_EXPIRES_S = 90 * 24 * 3600


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str | None = Field(None, max_length=64, description="A completed job of yours")
    pack_id: str | None = Field(
        None, max_length=64, description="Instead of job_id: a pack of yours, in any state"
    )
    expires_in_s: int = Field(
        DEFAULT_EXPIRES_S,
        ge=MIN_EXPIRES_S,
        le=MAX_EXPIRES_S,
        description="Seconds until the link stops working (60 s to 90 days; default 7 days)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> ShareCreate:
        if (self.job_id is None) == (self.pack_id is None):
            raise ValueError("give exactly one of job_id and pack_id")
        return self


class ShareOut(BaseModel):
    """A share link as listed: never its token, which is shown once, at creation."""

    id: str
    job_id: str | None
    pack_id: str | None
    created_at: datetime
    expires_at: datetime


class ShareCreated(ShareOut):
    url: str = Field(description="The public page; shown only in this answer")


class ShareList(BaseModel):
    items: list[ShareOut]
