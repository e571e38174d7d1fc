"""The catalog as the API shows it (GET /api/v1/models)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from image2ad.catalog.spec import GenerationType


class ParamOut(BaseModel):
    kind: Literal["choice", "int", "bool"]
    label: str
    choices: list[str | int | bool] | None = None
    default: str | int | bool | None = None
    min: int | None = None
    max: int | None = None


class ImagesOut(BaseModel):
    min: int
    max: int


class ModelOut(BaseModel):
    id: str
    type: GenerationType
    label: str
    description: str
    provider_model: str
    api: Literal["market", "veo"]
    default: bool
    available: bool
    unavailable_reason: str | None
    result_type: Literal["image", "video"]
    price: int = Field(description="Credits at the model's default parameters")
    prompt_max: int
    params: dict[str, ParamOut]
    images: ImagesOut


class ModelList(BaseModel):
    items: list[ModelOut]
