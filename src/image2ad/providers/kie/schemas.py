"""Kie.ai wire models (kie-api.md §2-§7). Tolerant on input, exact on output."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from image2ad.providers.base import TaskRecord, TaskState, UploadedFile

DataT = TypeVar("DataT")


class WireModel(BaseModel):
    """snake_case in Python, camelCase on the wire; unknown fields are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
    )


class EnvelopeHead(WireModel):
    """`{code, msg}`; the market docs sometimes say `message` instead of `msg`."""

    code: int | None = None
    msg: str | None = None
    message: str | None = None

    @property
    def text(self) -> str:
        return self.msg or self.message or ""


class Envelope(EnvelopeHead, Generic[DataT]):
    data: DataT


class CreateTaskRequest(WireModel):
    model: str
    input: dict[str, Any]
    call_back_url: str | None = None
    progress_call_back_url: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class CreateTaskData(WireModel):
    task_id: str = Field(min_length=1)


CreateTaskResponse = Envelope[CreateTaskData]


def error_text(value: Any) -> Any:
    """An error code or message as text; blank is none (Kie sends "" or null, numbers or
    strings, kie-models.md §1)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _json_object(value: Any) -> dict[str, Any] | None:
    """Decode a field that Kie sends as JSON text but clients sometimes see already parsed."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        value = json.loads(value)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


class ResultJson(WireModel):
    result_urls: list[str] = Field(default_factory=list)
    result_water_mark_urls: list[str] = Field(default_factory=list)
    result_object: Any = None


class RecordData(WireModel):
    """One task as reported by recordInfo and echoed in callbacks (kie-api.md §3.1, §4)."""

    task_id: str = Field(min_length=1)
    model: str = ""
    state: TaskState
    param: dict[str, Any] | None = None
    result_json: ResultJson | None = None
    fail_code: str | None = None
    fail_msg: str | None = None
    cost_time: int | None = None
    create_time: int | None = None
    update_time: int | None = None
    complete_time: int | None = None
    progress: int | None = None
    credits_consumed: float | None = Field(
        default=None, validation_alias=AliasChoices("creditsConsumed", "consumeCredits")
    )

    @field_validator("state", mode="before")
    @classmethod
    def _normalise_state(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("param", mode="before")
    @classmethod
    def _parse_param(cls, value: Any) -> dict[str, Any] | None:
        # `param` only echoes our own request, so a garbled copy must not hide the task state.
        try:
            param = _json_object(value)
        except ValueError:
            return None
        if param is not None and isinstance(param.get("input"), str):
            with contextlib.suppress(ValueError):
                param["input"] = _json_object(param["input"])
        return param

    @field_validator("result_json", mode="before")
    @classmethod
    def _parse_result(cls, value: Any) -> dict[str, Any] | None:
        return _json_object(value)

    @field_validator(
        "cost_time", "create_time", "update_time", "complete_time", "progress", mode="before"
    )
    @classmethod
    def _round_numbers(cls, value: Any) -> Any:
        return round(value) if isinstance(value, float) else value

    @field_validator("fail_code", "fail_msg", mode="before")
    @classmethod
    def _blank_to_none(cls, value: Any) -> Any:
        return error_text(value)

    def to_task_record(self) -> TaskRecord:
        return TaskRecord(
            task_id=self.task_id,
            model=self.model,
            state=self.state,
            result_urls=list(self.result_json.result_urls) if self.result_json else [],
            fail_code=self.fail_code,
            fail_message=self.fail_msg,
            progress=self.progress,
            credits_consumed=self.credits_consumed,
            cost_time=self.cost_time,
            create_time_ms=self.create_time,
            complete_time_ms=self.complete_time,
            param=self.param,
        )


RecordInfoResponse = Envelope[RecordData]


class UploadData(WireModel):
    """Upload answer; live captures have `downloadUrl`, older docs `fileUrl` (kie-api.md §6)."""

    download_url: str | None = None
    file_url: str | None = None
    file_path: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    mime_type: str | None = None

    @model_validator(mode="after")
    def _require_url(self) -> UploadData:
        if self.url is None:
            raise ValueError("upload response has no downloadUrl, fileUrl or absolute filePath")
        return self

    @property
    def url(self) -> str | None:
        for candidate in (self.download_url, self.file_url, self.file_path):
            if candidate and candidate.startswith(("https://", "http://")):
                return candidate
        return None

    def to_uploaded_file(self, *, fallback_name: str, fallback_size: int) -> UploadedFile:
        assert self.url is not None  # guaranteed by _require_url
        return UploadedFile(
            download_url=self.url,
            file_name=self.file_name or fallback_name,
            file_size=self.file_size if self.file_size is not None else fallback_size,
            mime_type=self.mime_type,
        )


UploadResponse = Envelope[UploadData]
CreditResponse = Envelope[float]


class DownloadUrlRequest(WireModel):
    url: str


DownloadUrlResponse = Envelope[Annotated[str, Field(min_length=1)]]


class CallbackBody(Envelope[RecordData | None]):
    """What Kie POSTs to `callBackUrl`: the recordInfo envelope; code 501 on failure (§4)."""

    task_id: str | None = None
