"""One emulated task: its timeline, derived from the clock, and its recordInfo record."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from image2ad.providers.base import TaskState
from image2ad.providers.emulator.catalog import ModelSpec, image_format

# Fractions of a task's duration at which it leaves `waiting` and `queuing`.
QUEUING_AT = 0.15
GENERATING_AT = 0.30
DEFAULT_FAIL_CODE = "500"
DEFAULT_FAIL_MSG = "Internal server error"
SUCCESS_FLAGS = {TaskState.SUCCESS: 1, TaskState.FAIL: 3}
"""recordInfo `successFlag`: 0 running, 1 success, 3 failed (kie-models.md §1, source K)."""


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
    credits: float = 0.0
    """What the run costs; charged at createTask and refunded if the task fails."""
    terminal_at: float = 0.0
    finalized: bool = False
    callback_due_handled: bool = False
    record_id: str = field(default_factory=lambda: secrets.token_hex(16))
    """createTask's `recordId` (kie-models.md §1); polling always uses `taskId`."""
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
    def is_sora(self) -> bool:
        return self.spec.name.startswith("sora-2")

    @property
    def result_names(self) -> list[str]:
        if self.is_sora:
            return [f"{self.task_id}.mp4", f"{self.task_id}_watermark.mp4"]
        if self.spec.is_video:
            return [f"{self.task_id}.mp4"]
        ext = "jpg" if image_format(self.spec, self.input) == "jpeg" else "png"
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
        """The recordInfo `data` object (kie-models.md §1); callbacks use null where Kie's
        examples do."""
        state = self.state_at(now)
        result = self._result(public_url) if state is TaskState.SUCCESS else None
        failed = state is TaskState.FAIL
        data: dict[str, Any] = {
            "taskId": self.task_id,
            "model": self.spec.name,
            "state": state.value,
            "param": json.dumps(self.request, separators=(",", ":"), ensure_ascii=False),
            "resultJson": (
                json.dumps(result, separators=(",", ":"))
                if result is not None
                else (None if for_callback else "")
            ),
            "response": result,
            # Kie's skill shows null on success; failures carry the code and message.
            "failCode": self.fail_code if failed else None,
            "failMsg": self.fail_msg if failed else None,
            # Seconds: Kie's example shows 59 where completeTime - createTime is 59,458 ms.
            "costTime": (
                (_ms(self.terminal_at) - _ms(self.created_at)) // 1000
                if state.is_terminal
                else None
            ),
            "completeTime": _ms(self.terminal_at) if state.is_terminal else None,
            "createTime": _ms(self.created_at),
            "updateTime": _ms(self._changed_at(state)),
            "creditsConsumed": float(self.credits) if state is TaskState.SUCCESS else 0.0,
            "successFlag": SUCCESS_FLAGS.get(state, 0),
            # Kie's skill: the field exists but is never filled; only Sora 2 reported it.
            "progress": self._progress(state, now) if self.is_sora else None,
        }
        return data

    def _result(self, public_url: str) -> dict[str, list[str]]:
        urls = [f"{public_url}/files/{self.file_token}/{name}" for name in self.result_names]
        result: dict[str, list[str]] = {"resultUrls": urls[:1]}
        if self.is_sora:
            result["resultWaterMarkUrls"] = urls[1:]
        return result
