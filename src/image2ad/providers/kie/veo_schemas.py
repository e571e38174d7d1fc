"""Wire models of Kie's Veo 3.1 API family (kie-models.md §3.3). Tolerant on input."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from image2ad.providers.base import TaskRecord, TaskState
from image2ad.providers.kie.schemas import Envelope, WireModel, error_text

# successFlag (kie-models.md §3.3): 0 generating, 1 success, 2 failed, 3 created but failed.
SUCCESS_FLAGS: dict[int, TaskState] = {
    0: TaskState.GENERATING,
    1: TaskState.SUCCESS,
    2: TaskState.FAIL,
    3: TaskState.FAIL,
}


def _urls(value: Any) -> Any:
    return [] if value is None else value


class VeoResult(WireModel):
    """`response` in record-info and `data.info` in the callback."""

    task_id: str | None = None
    result_urls: list[str] = Field(default_factory=list)
    origin_urls: list[str] = Field(default_factory=list)
    resolution: str | None = None

    _null_lists = field_validator("result_urls", "origin_urls", mode="before")(_urls)


class VeoRecord(WireModel):
    task_id: str = Field(min_length=1)
    param_json: dict[str, Any] | None = None
    create_time: int | None = None
    complete_time: int | None = None
    success_flag: int
    error_code: str | None = None
    error_message: str | None = None
    fallback_flag: bool | None = None
    response: VeoResult | None = None

    @field_validator("param_json", mode="before")
    @classmethod
    def _parse_param(cls, value: Any) -> dict[str, Any] | None:
        # Only echoes our own request: a garbled copy must not hide the task state.
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except ValueError:
                return None
        return value if isinstance(value, dict) else None

    @field_validator("success_flag")
    @classmethod
    def _known_flag(cls, value: int) -> int:
        if value not in SUCCESS_FLAGS:
            raise ValueError(f"unknown successFlag {value}")
        return value

    @field_validator("create_time", "complete_time", mode="before")
    @classmethod
    def _round_times(cls, value: Any) -> Any:
        return round(value) if isinstance(value, float) else value

    @field_validator("error_code", "error_message", mode="before")
    @classmethod
    def _blank_to_none(cls, value: Any) -> Any:
        return error_text(value)

    @property
    def state(self) -> TaskState:
        return SUCCESS_FLAGS[self.success_flag]

    def to_task_record(self) -> TaskRecord:
        state = self.state
        failed = state is TaskState.FAIL
        model = self.param_json.get("model") if self.param_json else None
        return TaskRecord(
            task_id=self.task_id,
            model=model if isinstance(model, str) else "",
            state=state,
            result_urls=(
                list(self.response.result_urls)
                if state is TaskState.SUCCESS and self.response
                else []
            ),
            fail_code=self.error_code if failed else None,
            fail_message=self.error_message if failed else None,
            # Veo's record-info reports no credits.
            credits_consumed=None,
            create_time_ms=self.create_time,
            complete_time_ms=self.complete_time,
            param=self.param_json,
        )


VeoRecordInfoResponse = Envelope[VeoRecord]


class FullHdData(WireModel):
    result_url: str = Field(min_length=1)


FullHdResponse = Envelope[FullHdData]


class VeoCallbackData(WireModel):
    task_id: str | None = None
    info: VeoResult | None = None
    fallback_flag: bool | None = None
    prompt_json: str | None = None


class VeoCallbackBody(Envelope[VeoCallbackData | None]):
    """What Kie POSTs to a Veo `callBackUrl`: code 200 with `data.info` on success, another
    code with `msg` on failure (kie-models.md §3.3)."""
