"""The emulator's tasks, account and test knobs; a task's state is derived from the clock."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

from image2ad.providers.base import TaskState
from image2ad.providers.emulator.callbacks import CallbackDispatcher, Delivery, DeliveryAttempt
from image2ad.providers.emulator.catalog import ModelSpec
from image2ad.providers.emulator.media import prepare_result
from image2ad.providers.emulator.ratelimit import SlidingWindowLimiter
from image2ad.providers.emulator.rendercache import RenderCache
from image2ad.providers.emulator.settings import EmulatorSettings
from image2ad.providers.emulator.task import DEFAULT_FAIL_CODE, DEFAULT_FAIL_MSG, Task
from image2ad.providers.emulator.uploads import StoredFile, UploadStore

PROGRESS_CALLBACKS_AT = (25, 50, 75)


class OutOfCredits(Exception):
    """The account cannot pay for the task (createTask body code 402)."""


class TaskFamily(Protocol):
    """Another Kie API family this emulator serves (the Veo API), on the same account."""

    async def result_file(self, token: str, name: str) -> tuple[str, bytes] | None:
        """`(task id, bytes)` of one of the family's result files, else None."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Knobs:
    settings: EmulatorSettings
    out_of_credits: bool
    drop_callbacks: bool
    duplicate_callbacks: int
    hold_results: bool
    hold_queries: bool
    create_limiter: SlidingWindowLimiter
    query_limiter: SlidingWindowLimiter
    discovery_limiter: SlidingWindowLimiter


@dataclass
class EmulatorState:
    """Everything the app knows; tests read and steer it through these plain methods."""

    settings: EmulatorSettings
    balance: float = 100_000
    out_of_credits: bool = False
    """When set, createTask answers body code 402 whatever the balance."""
    drop_callbacks: bool = False
    """When set, tasks reach their terminal state but no callback (nor progress) is sent."""
    duplicate_callbacks: int = 0
    """Extra copies of every callback, to exercise idempotent receivers."""
    hold_results: bool = False
    """While set, result file downloads wait (after joining held_results) until it is cleared."""
    hold_queries: bool = False
    """While set, recordInfo requests wait (counted, before reading the task) until cleared."""
    tasks: dict[str, Task] = field(default_factory=dict)
    tasks_by_token: dict[str, Task] = field(default_factory=dict)
    """The same tasks by the folder their result files are served from."""
    calls: Counter[str] = field(default_factory=Counter)
    """Requests per endpoint name: createTask, recordInfo, credit, downloadUrl, upload…"""
    queries: Counter[str] = field(default_factory=Counter)
    """recordInfo requests per task id."""
    refusals: Counter[str] = field(default_factory=Counter)
    """HTTP 429 answers per endpoint name."""
    held_results: list[str] = field(default_factory=list)
    """Task ids of result downloads that waited on hold_results, in arrival order."""
    served_results: list[str] = field(default_factory=list)
    """Task ids of result files served, in order."""
    callback_attempts: list[DeliveryAttempt] = field(default_factory=list)
    dropped_callbacks: list[str] = field(default_factory=list)
    uploads: UploadStore = field(default_factory=UploadStore)
    renders: RenderCache = field(default_factory=RenderCache)
    """Result files rendered so far (bounded)."""
    families: list[TaskFamily] = field(default_factory=list)
    """Other API families; the result-file route asks them, aclose closes them."""

    def __post_init__(self) -> None:
        self.public_url = self.settings.public_url.rstrip("/")
        self._lock = threading.RLock()
        self._random = random.Random(self.settings.seed)  # noqa: S311 - not security-relevant
        self.create_limiter = SlidingWindowLimiter(
            self.settings.create_limit, self.settings.create_period_s
        )
        self.query_limiter = SlidingWindowLimiter(
            self.settings.query_limit, self.settings.query_period_s
        )
        self.discovery_limiter = SlidingWindowLimiter(
            self.settings.discovery_limit, self.settings.discovery_period_s
        )
        self.dispatcher = CallbackDispatcher(
            self.settings,
            self._on_due,
            self.callback_attempts.append,
            on_prepare=lambda task_id: prepare_result(self, task_id),
        )

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the callback scheduler on the running loop (idempotent)."""
        self.dispatcher.ensure_running()

    async def aclose(self) -> None:
        """Stop the callback scheduler and in-flight deliveries; call on the server's loop."""
        await self.dispatcher.aclose()
        for family in self.families:
            await family.aclose()

    # --- knobs -----------------------------------------------------------------------------

    def knobs(self) -> Knobs:
        """A copy of every test knob, for `restore_knobs`."""
        return Knobs(
            replace(self.settings),
            self.out_of_credits,
            self.drop_callbacks,
            self.duplicate_callbacks,
            self.hold_results,
            self.hold_queries,
            self.create_limiter,
            self.query_limiter,
            self.discovery_limiter,
        )

    def restore_knobs(self, knobs: Knobs) -> None:
        # In place: the callback dispatcher holds this settings object.
        for f in fields(knobs.settings):
            setattr(self.settings, f.name, getattr(knobs.settings, f.name))
        self.out_of_credits = knobs.out_of_credits
        self.drop_callbacks = knobs.drop_callbacks
        self.duplicate_callbacks = knobs.duplicate_callbacks
        self.hold_results = knobs.hold_results
        self.hold_queries = knobs.hold_queries
        self.create_limiter = knobs.create_limiter
        self.query_limiter = knobs.query_limiter
        self.discovery_limiter = knobs.discovery_limiter

    # --- tasks -----------------------------------------------------------------------------

    def create_task(
        self,
        spec: ModelSpec,
        request: dict[str, Any],
        account: str,
        *,
        failure: tuple[str, str] | None = None,
    ) -> Task:
        """Register a task and charge for it; raises OutOfCredits when the account cannot pay.

        `failure` (failCode, failMsg) makes the task end in `fail`, as when Kie cannot fetch
        an input file.
        """
        now = time.time()
        duration = (
            self.settings.video_duration_s if spec.is_video else self.settings.image_duration_s
        )
        inp = request.get("input")
        credits = spec.credits_for(inp if isinstance(inp, dict) else {})
        with self._lock:
            if self.out_of_credits or self.balance < credits:
                raise OutOfCredits
            if failure is None and self._random.random() < self.settings.failure_rate:
                failure = (DEFAULT_FAIL_CODE, DEFAULT_FAIL_MSG)
            task = Task(
                task_id=uuid.uuid4().hex,
                spec=spec,
                request=request,
                account=account,
                created_at=now,
                duration_s=duration,
                outcome=TaskState.SUCCESS if failure is None else TaskState.FAIL,
                fail_code=failure[0] if failure else "",
                fail_msg=failure[1] if failure else "",
                credits=credits,
                terminal_at=now + duration,
            )
            self.tasks[task.task_id] = task
            self.tasks_by_token[task.file_token] = task
            self.balance = round(self.balance - credits, 2)
        self.dispatcher.schedule(task.task_id, task.terminal_at)
        if task.outcome is TaskState.SUCCESS:
            self.dispatcher.schedule_prepare(task.task_id, task.terminal_at, duration)
        if task.is_sora and task.progress_callback_url:
            for percent in PROGRESS_CALLBACKS_AT:
                self.dispatcher.schedule(task.task_id, task.progress_due(percent), percent)
        return task

    def record(
        self, task_id: str, *, for_callback: bool = False, account: str | None = None
    ) -> dict[str, Any] | None:
        """The recordInfo `data` for a task, or None when the id is unknown (or, with
        `account`, belongs to another account: Kie shows a key only its own tasks)."""
        now = time.time()
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None or (account is not None and task.account != account):
                return None
            if task.state_at(now).is_terminal:
                self._finalize(task)
            return task.record(now, self.public_url, for_callback=for_callback)

    def upload(self, path: str) -> StoredFile | None:
        """An uploaded file still within its lifetime (upload_ttl_s)."""
        stored = self.uploads.get(path)
        if stored is None:
            return None
        age_s = time.time() - stored.uploaded_at_ms / 1000
        return stored if age_s < self.settings.upload_ttl_s else None

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
                self.balance = round(self.balance + task.credits, 2)

    def _on_due(self, task_id: str, due: float, progress: int | None) -> list[Delivery]:
        if progress is None:
            return self._on_terminal(task_id, due)
        return self._on_progress(task_id, due)

    def _on_progress(self, task_id: str, due: float) -> list[Delivery]:
        # Kie does not document this body; the record envelope mirrors its completion callbacks.
        with self._lock:
            task = self.tasks.get(task_id)
            url = task.progress_callback_url if task is not None else None
            if task is None or url is None or task.state_at(due) is not TaskState.GENERATING:
                return []  # the task was forced to end before this point
            if not self.settings.callback_enabled or self.drop_callbacks:
                return []
            data = task.record(due, self.public_url, for_callback=True)
        body = {"code": 200, "msg": "generating", "data": data}
        return [Delivery(task_id, url, body, kind="progress")]

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
