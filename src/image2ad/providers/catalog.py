"""The model catalog: per generation type, which Kie model runs it and how inputs map.

It is configuration: `IMAGE2AD_CATALOG_FILE` (JSON, keyed by type) overrides any field of the
defaults, so a type can move to another Kie market model without code changes.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from image2ad.errors import InvalidInput

IMAGE_RATIOS = ("1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9", "auto")


class GenerationType(StrEnum):
    TEXT_TO_IMAGE = "text-to-image"
    IMAGE_TO_IMAGE = "image-to-image"
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"


class ParamSpec(BaseModel):
    """One user-facing parameter: allowed values, default, and the Kie input field it fills."""

    choices: list[str] | None = None
    default: str | bool | None = None
    kind: Literal["choice", "bool"] = "choice"
    kie_field: str | None = None
    # Values users may send that the model spells differently (e.g. 1:1 -> landscape on Sora).
    aliases: dict[str, str] = Field(default_factory=dict)


class ModelSpec(BaseModel):
    type: GenerationType
    model: str
    label: str
    result_type: Literal["image", "video"]
    price: int = 1
    prompt_max: int = 5000
    prompt_field: str = "prompt"
    images_field: str = "image_urls"
    min_images: int = 0
    max_images: int = 0
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    fixed_input: dict[str, Any] = Field(default_factory=dict)
    video_extension: str = "mp4"
    supports_progress_callback: bool = False

    @property
    def needs_image(self) -> bool:
        return self.min_images > 0

    def normalize_params(self, given: dict[str, Any]) -> dict[str, Any]:
        """Validate user parameters against the model; errors name the field."""
        out: dict[str, Any] = {}
        for name, value in given.items():
            if value is not None and name not in self.params:
                raise InvalidInput(f"{name} is not supported for {self.type.value}.", field=name)
        for name, spec in self.params.items():
            value = given.get(name)
            if value is None:
                value = spec.default
            elif spec.kind == "bool":
                if not isinstance(value, bool):
                    raise InvalidInput(f"{name} must be true or false.", field=name)
            else:
                value = spec.aliases.get(str(value), str(value))
                if spec.choices is not None and value not in spec.choices:
                    allowed = ", ".join(spec.choices)
                    raise InvalidInput(f"{name} must be one of: {allowed}.", field=name)
            if value is not None:
                out[name] = value
        return out

    def validate_prompt(self, prompt: str) -> str:
        prompt = prompt.strip()
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in prompt):
            raise InvalidInput("prompt must not contain control characters.", field="prompt")
        if not prompt:
            raise InvalidInput("prompt must not be empty.", field="prompt")
        if len(prompt) > self.prompt_max:
            raise InvalidInput(
                f"prompt is {len(prompt)} characters; the limit is {self.prompt_max}.",
                field="prompt",
            )
        return prompt

    def build_input(
        self, prompt: str, params: dict[str, Any], image_urls: list[str] | None = None
    ) -> dict[str, Any]:
        """The `input` object for createTask. Every field is sent explicitly (kie-api.md §2.1)."""
        data: dict[str, Any] = {self.prompt_field: prompt, **self.fixed_input}
        for name, value in params.items():
            data[self.params[name].kie_field or name] = value
        if self.max_images:
            data[self.images_field] = list(image_urls or [])
        return data

    def extension(self, params: dict[str, Any]) -> str:
        if self.result_type == "video":
            return self.video_extension
        return "jpg" if params.get("output_format") == "jpeg" else "png"


def _image_params() -> dict[str, ParamSpec]:
    return {
        "aspect_ratio": ParamSpec(choices=list(IMAGE_RATIOS), default="1:1"),
        "output_format": ParamSpec(choices=["png", "jpeg"], default="png", aliases={"jpg": "jpeg"}),
    }


def _video_params() -> dict[str, ParamSpec]:
    square_to_landscape = {
        "1:1": "landscape",
        "16:9": "landscape",
        "4:3": "landscape",
        "9:16": "portrait",
        "3:4": "portrait",
        "4:5": "portrait",
        "square": "landscape",
    }
    return {
        "aspect_ratio": ParamSpec(
            choices=["landscape", "portrait"], default="landscape", aliases=square_to_landscape
        ),
        "n_frames": ParamSpec(choices=["10", "15"], default="10"),
        "remove_watermark": ParamSpec(kind="bool", default=True),
    }


def default_specs() -> dict[GenerationType, ModelSpec]:
    return {
        GenerationType.TEXT_TO_IMAGE: ModelSpec(
            type=GenerationType.TEXT_TO_IMAGE,
            model="google/nano-banana",
            label="Text to Image",
            result_type="image",
            params=_image_params(),
        ),
        GenerationType.IMAGE_TO_IMAGE: ModelSpec(
            type=GenerationType.IMAGE_TO_IMAGE,
            model="google/nano-banana-edit",
            label="Image to Image",
            result_type="image",
            params=_image_params(),
            min_images=1,
            max_images=1,
        ),
        GenerationType.TEXT_TO_VIDEO: ModelSpec(
            type=GenerationType.TEXT_TO_VIDEO,
            model="sora-2-text-to-video",
            label="Text to Video",
            result_type="video",
            prompt_max=10000,
            params=_video_params(),
            supports_progress_callback=True,
        ),
        GenerationType.IMAGE_TO_VIDEO: ModelSpec(
            type=GenerationType.IMAGE_TO_VIDEO,
            model="sora-2-image-to-video",
            label="Image to Video",
            result_type="video",
            prompt_max=10000,
            params=_video_params(),
            min_images=1,
            max_images=1,
            supports_progress_callback=True,
        ),
    }


class Catalog:
    def __init__(self, specs: dict[GenerationType, ModelSpec]) -> None:
        self.specs = specs

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        specs = default_specs()
        if path is not None:
            overrides = json.loads(path.read_text())
            for type_name, fields in overrides.items():
                gen_type = GenerationType(type_name)
                merged = specs[gen_type].model_dump() | fields
                specs[gen_type] = ModelSpec.model_validate(merged)
        return cls(specs)

    def get(self, type_name: str) -> ModelSpec:
        try:
            return self.specs[GenerationType(type_name)]
        except ValueError:
            allowed = ", ".join(t.value for t in GenerationType)
            raise InvalidInput(f"type must be one of: {allowed}.", field="type") from None
