"""One emulated task: its timeline, derived from the clock, and its recordInfo record."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from image2ad.providers.base import TaskState
from image2ad.providers.emulator.catalog import ModelSpec

# Fractions of a task's duration at which it leaves `waiting` and `queuing`.
QUEUING_AT = 0.15
GENERATING_AT = 0.30
DEFAULT_FAIL_CODE = "500"
DEFAULT_FAIL_MSG = "Internal server error"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass
class Task:
    task_id: str
    spec: ModelSpec
    request: dict[str, Any]
    """The create request exactly as received; recordInfo returns it as `param`."""
    account: str
    created_at: float
    duration_s: float
    outcome: TaskState
    fail_code: str = ""
    fail_msg: str = ""
    terminal_at: float = 0.0
    finalized: bool = False
    callback_due_handled: bool = False
    file_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    """The result files' folder: a task id alone does not reach them, as on Kie's CDN."""

    @property
    def input(self) -> dict[str, Any]:
        value = self.request.get("input")
        return value if isinstance(value, dict) else {}

    @property
    def callback_url(self) -> str | None:
        url = self.request.get("callBackUrl")
        return url if isinstance(url, str) and url else None

    @property
    def progress_callback_url(self) -> str | None:
        url = self.request.get("progressCallBackUrl")
        return url if isinstance(url, str) and url else None

    @property
    def result_names(self) -> list[str]:
        if self.spec.is_video:
            return [f"{self.task_id}.mp4", f"{self.task_id}_watermark.mp4"]
        ext = "jpg" if self.input.get("output_format") == "jpeg" else "png"
        return [f"{self.task_id}_1_{int(self.created_at)}.{ext}"]

    def state_at(self, now: float) -> TaskState:
        if now >= self.terminal_at:
            return self.outcome
        elapsed = (now - self.created_at) / self.duration_s if self.duration_s > 0 else 1.0
        if elapsed < QUEUING_AT:
            return TaskState.WAITING
        if elapsed < GENERATING_AT:
            return TaskState.QUEUING
        return TaskState.GENERATING

    def _changed_at(self, state: TaskState) -> float:
        if state.is_terminal:
            return self.terminal_at
        if state is TaskState.WAITING:
            return self.created_at
        fraction = QUEUING_AT if state is TaskState.QUEUING else GENERATING_AT
        return self.created_at + fraction * self.duration_s

    def progress_due(self, percent: int) -> float:
        """When `progress` reads `percent`; mid-percent, so truncating lands on it."""
        span = (1 - GENERATING_AT) * self.duration_s
        return self.created_at + GENERATING_AT * self.duration_s + span * (percent + 0.5) / 100

    def _progress(self, state: TaskState, now: float) -> int:
        if state is TaskState.SUCCESS:
            return 100
        start = self.created_at + GENERATING_AT * self.duration_s
        span = (1 - GENERATING_AT) * self.duration_s
        at = min(now, self.terminal_at)
        if at <= start or span <= 0:
            return 0
        return max(0, min(99, int(100 * (at - start) / span)))

    def record(self, now: float, public_url: str, *, for_callback: bool = False) -> dict[str, Any]:
        """The recordInfo `data` object (§3.1); callbacks use null where Kie's examples do."""
        state = self.state_at(now)
        empty: str | None = None if for_callback else ""
        result_json: str | None = empty
        if state is TaskState.SUCCESS:
            urls = [f"{public_url}/files/{self.file_token}/{name}" for name in self.result_names]
            result: dict[str, list[str]] = {"resultUrls": urls[:1]}
            if self.spec.is_video:
                result["resultWaterMarkUrls"] = urls[1:]
            result_json = json.dumps(result, separators=(",", ":"))
        failed = state is TaskState.FAIL
        data: dict[str, Any] = {
            "taskId": self.task_id,
            "model": self.spec.name,
            "state": state.value,
            "param": json.dumps(self.request, separators=(",", ":"), ensure_ascii=False),
            "resultJson": result_json,
            "failCode": self.fail_code if failed else empty,
            "failMsg": self.fail_msg if failed else empty,
            "costTime": (
                _ms(self.terminal_at) - _ms(self.created_at) if state.is_terminal else None
            ),
            "completeTime": _ms(self.terminal_at) if state.is_terminal else None,
            "createTime": _ms(self.created_at),
            "updateTime": _ms(self._changed_at(state)),
            "creditsConsumed": self.spec.credits if state is TaskState.SUCCESS else 0,
        }
        if self.spec.is_video:
            data["progress"] = self._progress(state, now)
        return data
