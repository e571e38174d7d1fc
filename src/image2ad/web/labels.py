"""Words the pages show for catalog values: ad-format names, stages, dates, credits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from image2ad.catalog import Catalog, ModelSpec, ParamSpec
from image2ad.jobs.naming import download_name
from image2ad.jobs.schemas import JobOut
from image2ad.jobs.status import JobStatus
from image2ad.placements import PLACEMENTS

# Ad-format names for the ratios that have one; other ratios show only the ratio.
RATIO_NAMES = {
    "1:1": "Feed",
    "4:5": "Portrait",
    "9:16": "Story",
    "16:9": "Landscape",
    "auto": "Auto",
    "landscape": "Landscape",
    "portrait": "Portrait",
}
VIDEO_SHAPES = {"landscape": "16:9", "portrait": "9:16"}
VALUE_NAMES = {
    "png": "PNG",
    "jpeg": "JPEG",
    "std": "Standard",
    "pro": "Pro",
    "basic": "Basic",
    "high": "High",
    "adaptive": "Adaptive",
}
# Names for parameters whose model gives none, or whose model is no longer listed.
PARAM_NAMES = {
    "aspect_ratio": "Aspect ratio",
    "output_format": "Format",
    "n_frames": "Length (s)",
    "duration": "Length (s)",
    "remove_watermark": "Remove watermark",
    "resolution": "Resolution",
    "sound": "Sound",
    "generate_audio": "Sound",
}
PACK_STATUS_TEXT = {
    "processing": "In progress",
    "completed": "Done",
    "partial": "Partly done",
    "failed": "Failed",
}
STAGES = ("queued", "submitting", "waiting", "generating", "downloading", "storing")
STAGE_TEXT = {
    "queued": "Queued",
    "submitting": "Sending to the model",
    "waiting": "Waiting for the model",
    "generating": "Generating",
    "downloading": "Downloading the result",
    "storing": "Saving to your library",
}
STATUS_TEXT = {
    "pending": "Queued",
    "processing": "In progress",
    "completed": "Done",
    "failed": "Failed",
    "canceled": "Canceled",
}


@dataclass(frozen=True)
class Choice:
    value: str
    name: str
    detail: str
    default: bool


def ratio_label(value: str | None) -> str:
    if not value:
        return ""
    name = RATIO_NAMES.get(value)
    shape = VIDEO_SHAPES.get(value, value)
    if name is None:
        return value
    return name if name == "Auto" else f"{name} {shape}"


def ratio_choices(spec: ModelSpec) -> list[Choice]:
    param = spec.params.get("aspect_ratio")
    if param is None or not param.choices:
        return []
    # Ad formats first, in the order people use them; then the other ratios, "auto" last.
    values = [str(c) for c in param.choices]
    named = [r for r in RATIO_NAMES if r in values and r != "auto"]
    rest = [c for c in values if c not in named and c != "auto"]
    order = named + rest + (["auto"] if "auto" in values else [])
    return [
        Choice(
            value=value,
            name=RATIO_NAMES.get(value, value),
            detail=VIDEO_SHAPES.get(value, value) if value in named else "",
            default=value == param.default,
        )
        for value in order
    ]


def value_choices(param: ParamSpec) -> list[Choice]:
    return [
        Choice(
            value=str(c),
            name=VALUE_NAMES.get(str(c), str(c)),
            detail="",
            default=c == param.default,
        )
        for c in param.choices or []
    ]


def param_name(name: str, param: ParamSpec | None = None) -> str:
    if param is not None and param.label:
        return param.label
    return PARAM_NAMES.get(name, name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Control:
    """One form control for a model parameter: chips for choices, a slider for a number
    range, a checkbox for on/off."""

    name: str
    kind: str
    label: str
    choices: list[Choice]
    minimum: int | None
    maximum: int | None
    default: str | int | bool | None


def param_controls(spec: ModelSpec) -> list[Control]:
    controls = []
    for name, param in spec.params.items():
        choices = ratio_choices(spec) if name == "aspect_ratio" else value_choices(param)
        controls.append(
            Control(
                name=name,
                kind=param.kind,
                label=param_name(name, param),
                choices=choices,
                minimum=param.min,
                maximum=param.max,
                default=param.default,
            )
        )
    return controls


@dataclass(frozen=True)
class ParamRow:
    label: str
    value: str


def param_rows(spec: ModelSpec | None, params: dict[str, Any]) -> list[ParamRow]:
    """A job's parameters as the job page lists them, in the model's order."""
    known = spec.params if spec is not None else {}
    names = [n for n in known if n in params] + [n for n in params if n not in known]
    rows = []
    for name in names:
        value = params[name]
        if isinstance(value, bool):
            text = "On" if value else "Off"
        elif name == "aspect_ratio":
            text = ratio_label(str(value))
        else:
            text = VALUE_NAMES.get(str(value), str(value))
        rows.append(ParamRow(param_name(name, known.get(name)), text))
    return rows


def model_label(catalog: Catalog, type_name: str, model_id: str) -> str:
    """The model's name; its id when the catalog no longer lists it."""
    spec = catalog.find(type_name, model_id)
    return spec.label if spec is not None else model_id


def stage_percent(status: str, stage: str | None, progress: int | None) -> int | None:
    """The progress bar's value: the model's own percentage while it generates, full once the
    generation is done, and None (an indeterminate bar) while nothing can be measured — no
    made-up numbers for queueing or waiting."""
    if status == JobStatus.COMPLETED or stage in ("downloading", "storing"):
        return 100
    if stage == "generating" and progress is not None:
        return max(0, min(100, progress))
    return None


def stage_text(job: JobOut, now: datetime | None = None) -> str:
    if job.status.is_terminal:
        return STATUS_TEXT[job.status.value]
    if job.queue_position is not None and job.estimated_start_at is not None:
        return queue_text(job.queue_position, job.estimated_start_at, now or datetime.now(UTC))
    text = STAGE_TEXT.get(job.stage.value if job.stage else "queued", "Queued")
    if job.stage == "generating" and job.progress is not None:
        text = f"{text} {job.progress} %"
    return text


def queue_text(position: int, estimated_start_at: datetime, now: datetime) -> str:
    """A waiting job's place in the shared queue (app.js's queueText says the same)."""
    place = "next in line" if position == 1 else f"{position - 1} ahead"
    return f"Queued · {place} · starts {_starts_in((estimated_start_at - now).total_seconds())}"


def _starts_in(seconds: float) -> str:
    if seconds < 5:
        return "in a few seconds"
    if seconds < 90:
        return f"in about {round(seconds)} s"
    return f"in about {round(seconds / 60)} min"


def credits_text(job: JobOut) -> str:
    unit = "credit" if job.credits_charged == 1 else "credits"
    if job.credits_refunded:
        return f"{job.credits_refunded} {unit} refunded"
    return f"{job.credits_charged} {unit}"


# A failed job in plain words with what to do next; the model's own text stays behind
# "Details". Keys are job error codes, or the start of one (provider_failed_<failCode>).
REJECTED = (
    "The model turned this request down. Words, brands or faces it may not make are the usual "
    "cause: change the prompt or the image, then try again."
)
SETUP = (
    "This server could not use the model service right now; your request was fine. "
    "Try again later, or tell whoever runs this image2ad."
)
FAILURE_ADVICE = {
    "provider_rejected_input": REJECTED,
    "provider_failed_400": REJECTED,
    "provider_failed_422": REJECTED,
    "model_unavailable": "This model is not taking work right now. Pick another model and try "
    "again.",
    "deadline_exceeded": "The model took too long, so the job was stopped. Try again: busy hours "
    "are slower.",
    "provider_auth": SETUP,
    "provider_out_of_credits": SETUP,
    "provider_key_limit": SETUP,
    "provider_feature_disabled": SETUP,
}
FAILURE_DEFAULT = (
    "Something went wrong at the model's end. Try again; if it keeps failing, pick another model."
)


def placement_label(placement_id: str | None) -> str:
    """A pack job's placement as shown: "Story / Reel 9:16"."""
    placement = PLACEMENTS.get(placement_id or "")
    return f"{placement.label} {placement.ratio_label}" if placement else ""


def failure_advice(code: str | None) -> str:
    if code is None:
        return FAILURE_DEFAULT
    return FAILURE_ADVICE.get(code, FAILURE_DEFAULT)


def refund_line(job: JobOut) -> str:
    """The one sentence about an ended job's credit."""
    if job.credits_refunded:
        n = job.credits_refunded
        return f"Your {n} credit{'s were' if n != 1 else ' was'} returned."
    if job.status == JobStatus.CANCELED and job.credits_charged:
        n = job.credits_charged
        return (
            f"Its {n} credit{'s were' if n != 1 else ' was'} kept: the model had already "
            "started it."
        )
    return ""


def result_download_name(job: JobOut) -> str:
    return download_name(job.type.value, job.prompt, job.created_at, job.result_path or "")


def when(value: datetime | None) -> Markup | str:
    """A moment as a <time> in UTC; app.js shows it in the reader's time zone, UTC on hover."""
    if value is None:
        return "—"
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    utc = moment.strftime("%d %b %Y, %H:%M UTC")
    return Markup('<time datetime="{}" title="{}" data-local>{}</time>').format(
        moment.isoformat(), utc, utc
    )


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A short name for a browser, e.g. "Firefox on Linux"; the raw string is in a tooltip."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"
