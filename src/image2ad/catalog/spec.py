"""One model of the catalog: its Kie API family, how a job's inputs map onto Kie's fields, the
parameters a user may set, and what Kie charges for a run (kie-models.md §3)."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from image2ad.errors import InvalidInput


class GenerationType(StrEnum):
    TEXT_TO_IMAGE = "text-to-image"
    IMAGE_TO_IMAGE = "image-to-image"
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"

    @property
    def label(self) -> str:
        source, _, result = self.value.partition("-to-")
        return f"{source.capitalize()} to {result.capitalize()}"

    @property
    def result_type(self) -> str:
        return "video" if self.value.endswith("video") else "image"

    @property
    def extension(self) -> str:
        """The result's file extension when its model is no longer listed."""
        return "mp4" if self.result_type == "video" else "png"


Value = str | int | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamSpec(_Strict):
    """A parameter a user may set. `choice` values are strings, `int` values integers in
    [min, max] (or among `choices` when listed), `bool` true or false."""

    kind: Literal["choice", "int", "bool"] = "choice"
    label: str = ""
    choices: list[Value] | None = None
    default: Value | None = None
    min: int | None = None
    max: int | None = None
    # Other spellings users may send for a value: "jpg" -> "jpeg", "landscape" -> "16:9".
    aliases: dict[str, Value] = Field(default_factory=dict)
    # The Kie input field it fills (the parameter's own name when unset).
    kie_field: str | None = None
    # How the value travels: `string` sends an int as "5" (Kling's durations), `omit` keeps it
    # out of the request (a choice we act on ourselves, e.g. Veo's 1080p fetch).
    wire: Literal["value", "string", "omit"] = "value"
    # Kie's own spelling of a value where it differs from ours: {"jpeg": "jpg"}.
    wire_values: dict[str, Value] = Field(default_factory=dict)

    def normalize(self, name: str, raw: Any) -> Value:
        value = self.aliases.get(str(raw), raw) if not isinstance(raw, bool) else raw
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidInput(f"{name} must be true or false.", field=name)
            return value
        if self.kind == "int":
            return self._integer(name, value)
        value = str(value)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise InvalidInput(f"{name} must be one of: {allowed}.", field=name)
        return value

    def _integer(self, name: str, value: Any) -> int:
        if isinstance(value, bool):
            raise InvalidInput(f"{name} must be a whole number.", field=name)
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise InvalidInput(f"{name} must be a whole number.", field=name)
        if self.choices is not None and number not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise InvalidInput(f"{name} must be one of: {allowed}.", field=name)
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            raise InvalidInput(f"{name} must be from {self.min} to {self.max}.", field=name)
        return number

    def to_wire(self, value: Value) -> Value:
        value = self.wire_values.get(str(value), value)
        return str(value) if self.wire == "string" else value


class ImageInput(_Strict):
    """Where a job's reference image goes: a list field (`image_urls`) or one URL string
    (`first_frame_url`). A job sends at most `max` images; the model needs `min`."""

    field: str
    shape: Literal["list", "string"] = "list"
    min: int = 1
    max: int = 1


class Constraint(_Strict):
    """A combination the model refuses, e.g. GPT Image 2 makes no 4K square."""

    when: dict[str, list[Value]]
    forbid: dict[str, list[Value]]
    message: str


class KieCost(_Strict):
    """What Kie charges for one run, in Kie credits: `credits` per run (or per second of the
    `duration` parameter when `per_second`), replaced by a value's own rate in `rates` and
    multiplied by `factors` (e.g. sound on)."""

    credits: float
    per_second: bool = False
    rates: dict[str, dict[str, float]] = Field(default_factory=dict)
    factors: dict[str, dict[str, float]] = Field(default_factory=dict)
    source: str = ""

    def of(self, params: dict[str, Any]) -> float:
        rate = self.credits
        for name, table in self.rates.items():
            if _key(params.get(name)) in table:
                rate = table[_key(params.get(name))]
                break
        for name, table in self.factors.items():
            rate *= table.get(_key(params.get(name)), 1.0)
        if self.per_second:
            rate *= float(params.get("duration") or 0)
        return rate


def _key(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class ModelSpec(_Strict):
    id: str
    type: GenerationType
    label: str
    blurb: str = ""
    provider_model: str
    api: Literal["market", "veo"] = "market"
    result_type: Literal["image", "video"]
    default: bool = False
    # Listed so old jobs keep their name; new jobs on it are refused.
    withdrawn: str | None = None
    prompt_max: int = 5000
    prompt_field: str = "prompt"
    images: ImageInput | None = None
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    # The job's original top-level fields (aspect_ratio, output_format, n_frames,
    # remove_watermark) -> this model's parameter; "" = accepted, no effect on this model.
    legacy: dict[str, str] = Field(default_factory=dict)
    constraints: list[Constraint] = Field(default_factory=list)
    fixed_input: dict[str, Any] = Field(default_factory=dict)
    kie_cost: KieCost | None = None
    # A fixed price in our credits, instead of the one derived from Kie's cost.
    price_credits: int | None = None
    # Another model of the same type that runs this model's jobs while it is unavailable.
    fallback: str | None = None
    result_format: Literal["png", "jpeg", "mp4"] = "png"
    supports_progress_callback: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        needs_image = self.type in (GenerationType.IMAGE_TO_IMAGE, GenerationType.IMAGE_TO_VIDEO)
        if needs_image != (self.images is not None):
            raise ValueError(f"{self.id}: {self.type.value} models take exactly the images field")
        for legacy, param in self.legacy.items():
            if param and param not in self.params:
                raise ValueError(f"{self.id}: legacy field {legacy} names no parameter {param}")
        if self.kie_cost is None and self.price_credits is None and not self.withdrawn:
            raise ValueError(f"{self.id}: give kie_cost or price_credits")
        return self

    @property
    def needs_image(self) -> bool:
        return self.images is not None and self.images.min > 0

    @property
    def available_by_design(self) -> bool:
        return self.withdrawn is None

    def defaults(self) -> dict[str, Value]:
        return {n: p.default for n, p in self.params.items() if p.default is not None}

    def normalize_params(
        self, params: dict[str, Any], legacy: dict[str, Any] | None = None
    ) -> dict[str, Value]:
        """The job's parameters: `params` checked against the model, the original top-level
        fields mapped onto their equivalents, every other parameter at its default."""
        given: dict[str, Any] = {}
        for name, value in (legacy or {}).items():
            if value is None:
                continue
            if name not in self.legacy:
                raise InvalidInput(f"{name} is not supported by {self.label}.", field=name)
            if self.legacy[name]:
                given[self.legacy[name]] = value
        for name, value in params.items():
            if name not in self.params:
                known = ", ".join(self.params) or "none"
                raise InvalidInput(
                    f"params.{name} is not a parameter of {self.label} (it takes: {known}).",
                    field=f"params.{name}",
                )
            if value is not None:
                given[name] = value
        out: dict[str, Value] = {}
        for name, spec in self.params.items():
            if name in given:
                out[name] = spec.normalize(name, given[name])
            elif spec.default is not None:
                out[name] = spec.default
        self._check_constraints(out)
        return out

    def _check_constraints(self, params: dict[str, Value]) -> None:
        for rule in self.constraints:
            applies = all(params.get(n) in values for n, values in rule.when.items())
            if applies and any(params.get(n) in values for n, values in rule.forbid.items()):
                field = next(iter(rule.forbid))
                raise InvalidInput(f"{self.label}: {rule.message}", field=field)

    def validate_prompt(self, prompt: str) -> str:
        prompt = prompt.strip()
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in prompt):
            raise InvalidInput("prompt must not contain control characters.", field="prompt")
        if not prompt:
            raise InvalidInput("prompt must not be empty.", field="prompt")
        if len(prompt) > self.prompt_max:
            raise InvalidInput(
                f"prompt is {len(prompt)} characters; {self.label} takes at most "
                f"{self.prompt_max}.",
                field="prompt",
            )
        return prompt

    def build_input(
        self, prompt: str, params: dict[str, Any], image_urls: list[str] | None = None
    ) -> dict[str, Any]:
        """The body Kie gets: the market's `input` object or Veo's flat fields (without the
        model and callback, which the adapter adds). Every field is sent explicitly."""
        data: dict[str, Any] = {self.prompt_field: prompt, **self.fixed_input}
        for name, value in params.items():
            spec = self.params.get(name)
            if spec is None or spec.wire == "omit":
                continue
            data[spec.kie_field or name] = spec.to_wire(value)
        urls = list(image_urls or [])
        if self.images is not None and self.images.shape == "list":
            data[self.images.field] = urls
        elif self.images is not None and urls:
            data[self.images.field] = urls[0]
        if self.api == "veo":
            data["generationType"] = "FIRST_AND_LAST_FRAMES_2_VIDEO" if urls else "TEXT_2_VIDEO"
        return data

    def kie_credits(self, params: dict[str, Any]) -> float | None:
        return None if self.kie_cost is None else self.kie_cost.of(params)

    def extension(self, params: dict[str, Any]) -> str:
        if self.result_type == "video":
            return "mp4"
        fmt = params.get("output_format", self.result_format)
        return "jpg" if fmt == "jpeg" else "png"


def credits_for(cost: float, reference: float, unit: int) -> int:
    """Our price for a run costing `cost` Kie credits when `reference` Kie credits cost `unit`
    of ours: the same ratio, rounded up, never below one credit."""
    if reference <= 0:
        return unit
    return max(1, math.ceil(round(cost / reference * unit, 6)))
