"""The emulator's tasks, account and test knobs; a task's state is derived from the clock."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from image2ad.providers.base import TaskState
from image2ad.providers.emulator.callbacks import CallbackDispatcher, Delivery, DeliveryAttempt
from image2ad.providers.emulator.catalog import ModelSpec
from image2ad.providers.emulator.ratelimit import SlidingWindowLimiter
from image2ad.providers.emulator.settings import EmulatorSettings
from image2ad.providers.emulator.uploads import UploadStore

# Fractions of a task's duration at which it leaves `waiting` and `queuing`.
QUEUING_AT = 0.15
GENERATING_AT = 0.30
DEFAULT_FAIL_CODE = "500"
DEFAULT_FAIL_MSG = "Internal server error"
RENDER_CACHE_SIZE = 128


class OutOfCredits(Exception):
    """The account cannot pay for the task (createTask body code 402)."""


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
            return [f"{self.task_id}.png", f"{self.task_id}_watermark.png"]
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
            urls = [f"{public_url}/files/{self.task_id}/{name}" for name in self.result_names]
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


@dataclass
class EmulatorState:
    """Everything the app knows; tests read and steer it through these plain methods."""

    settings: EmulatorSettings
    balance: int = 100_000
    out_of_credits: bool = False
    """When set, createTask answers body code 402 whatever the balance."""
    drop_callbacks: bool = False
    """When set, tasks reach their terminal state but no callback is sent."""
    duplicate_callbacks: int = 0
    """Extra copies of every callback, to exercise idempotent receivers."""
    tasks: dict[str, Task] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    """Requests per endpoint name: createTask, recordInfo, credit, downloadUrl, upload…"""
    callback_attempts: list[DeliveryAttempt] = field(default_factory=list)
    dropped_callbacks: list[str] = field(default_factory=list)
    uploads: UploadStore = field(default_factory=UploadStore)

    def __post_init__(self) -> None:
        self.public_url = self.settings.public_url.rstrip("/")
        self._lock = threading.RLock()
        self._random = random.Random(self.settings.seed)  # noqa: S311 - not security-relevant
        self._renders: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.create_limiter = SlidingWindowLimiter(
            self.settings.create_limit, self.settings.create_period_s
        )
        self.query_limiter = SlidingWindowLimiter(
            self.settings.query_limit, self.settings.query_period_s
        )
        self.dispatcher = CallbackDispatcher(
            self.settings, self._on_terminal, self.callback_attempts.append
        )

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the callback scheduler on the running loop (idempotent)."""
        self.dispatcher.ensure_running()

    async def aclose(self) -> None:
        """Stop the callback scheduler and in-flight deliveries; call on the server's loop."""
        await self.dispatcher.aclose()

    # --- tasks -----------------------------------------------------------------------------

    def create_task(self, spec: ModelSpec, request: dict[str, Any], account: str) -> Task:
        """Register a task and charge for it; raises OutOfCredits when the account cannot pay."""
        now = time.time()
        duration = (
            self.settings.video_duration_s if spec.is_video else self.settings.image_duration_s
        )
        with self._lock:
            if self.out_of_credits or self.balance < spec.credits:
                raise OutOfCredits
            failed = self._random.random() < self.settings.failure_rate
            task = Task(
                task_id=uuid.uuid4().hex,
                spec=spec,
                request=request,
                account=account,
                created_at=now,
                duration_s=duration,
                outcome=TaskState.FAIL if failed else TaskState.SUCCESS,
                fail_code=DEFAULT_FAIL_CODE if failed else "",
                fail_msg=DEFAULT_FAIL_MSG if failed else "",
                terminal_at=now + duration,
            )
            self.tasks[task.task_id] = task
            self.balance -= spec.credits
        self.dispatcher.schedule(task.task_id, task.terminal_at)
        return task

    def record(self, task_id: str, *, for_callback: bool = False) -> dict[str, Any] | None:
        """The recordInfo `data` for a task, or None when the id is unknown."""
        now = time.time()
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                return None
            if task.state_at(now).is_terminal:
                self._finalize(task)
            return task.record(now, self.public_url, for_callback=for_callback)

    def list_tasks(self) -> list[dict[str, Any]]:
        return [r for tid in list(self.tasks) if (r := self.record(tid)) is not None]

    def force_success(self, task_id: str) -> None:
        """End a running task successfully now (its callback follows at once)."""
        self._force(task_id, TaskState.SUCCESS, "", "")

    def force_fail(
        self, task_id: str, fail_code: str = DEFAULT_FAIL_CODE, fail_msg: str = DEFAULT_FAIL_MSG
    ) -> None:
        """End a running task with state=fail now, with the given failCode/failMsg."""
        self._force(task_id, TaskState.FAIL, fail_code, fail_msg)

    def _force(self, task_id: str, outcome: TaskState, code: str, msg: str) -> None:
        now = time.time()
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                raise KeyError(task_id)
            if task.state_at(now).is_terminal:
                raise ValueError(f"task {task_id} is already {task.outcome.value}")
            task.outcome, task.fail_code, task.fail_msg = outcome, code, msg
            task.terminal_at = now
        self.dispatcher.schedule(task_id, now)

    def _finalize(self, task: Task) -> None:
        # Failed tasks are not charged (§8: storyboard failures show consumeCredits 0).
        if not task.finalized:
            task.finalized = True
            if task.outcome is TaskState.FAIL:
                self.balance += task.spec.credits

    def _on_terminal(self, task_id: str, due: float) -> list[Delivery]:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None or task.terminal_at != due or task.callback_due_handled:
                return []  # stale heap entry: the task was forced to end at another time
            task.callback_due_handled = True
            self._finalize(task)
            url = task.callback_url
            if url is None or not self.settings.callback_enabled:
                return []
            if self.drop_callbacks:
                self.dropped_callbacks.append(task_id)
                return []
            data = task.record(max(time.time(), due), self.public_url, for_callback=True)
        ok = task.outcome is TaskState.SUCCESS
        body = {
            "code": 200 if ok else 501,
            "msg": "Playground task completed successfully." if ok else "Playground task failed.",
            "data": data,
        }
        return [Delivery(task_id, url, body)] * (1 + max(0, self.duplicate_callbacks))

    # --- result files ----------------------------------------------------------------------

    def cached_render(self, task_id: str, name: str) -> bytes | None:
        with self._lock:
            data = self._renders.get((task_id, name))
            if data is not None:
                self._renders.move_to_end((task_id, name))
            return data

    def cache_render(self, task_id: str, name: str, data: bytes) -> None:
        with self._lock:
            self._renders[(task_id, name)] = data
            while len(self._renders) > RENDER_CACHE_SIZE:
                self._renders.popitem(last=False)
