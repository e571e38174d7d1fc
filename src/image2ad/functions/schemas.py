from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SeedRequest(BaseModel):
    """What the seed's front-end sends. Other fields are ignored, as the seed's functions did."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1, max_length=20000)
    aspect_ratio: str | None = Field(None, max_length=32)
    imageUrl: str | None = Field(
        None, max_length=8192, description="A public https image: fetched, checked, re-encoded"
    )
    source_upload_id: str | None = Field(
        None, max_length=64, description="Instead of imageUrl: an upload of yours"
    )


class SeedSuccess(BaseModel):
    success: bool = True
    jobId: str
    result_path: str = Field(description="The result's key in storage, as the seed answered")
    result_url: str = Field(description="Absolute, signed, short-lived link to the result")
    result_type: str = Field(description="image or video")


class SeedFailure(BaseModel):
    success: bool = False
    error: str = Field(description="What went wrong, in words")
    code: str = Field(description="The error code, as in the API's errors")
    jobId: str | None = Field(None, description="The job, once one was created")
    status: str | None = Field(None, description="The job's status when the answer was given")
