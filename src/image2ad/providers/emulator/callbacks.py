"""Callback delivery: one scheduler task wakes at the next due event (a heap)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import heapq
import hmac
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from image2ad.providers.emulator.settings import EmulatorSettings

log = logging.getLogger(__name__)

MAX_CONCURRENT_DELIVERIES = 64

CallbackKind = Literal["completion", "progress"]


@dataclass(frozen=True)
class Delivery:
    task_id: str
    url: str
    body: dict[str, Any]
    kind: CallbackKind = "completion"


@dataclass(frozen=True)
class DeliveryAttempt:
    task_id: str
    url: str
    attempt: int
    status_code: int | None
    error: str | None
    at: float
    kind: CallbackKind = "completion"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(key: str, task_id: str, timestamp: int) -> str:
    """Kie's webhook signature: base64(HMAC-SHA256(key, "taskId.timestamp")) (§4.1)."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


DueHandler = Callable[[str, float, int | None], list[Delivery]]
"""`(task_id, due, progress)`: progress is None for the terminal event, else a percentage."""

PrepareHandler = Callable[[str], Awaitable[None]]
"""Makes a task's result files ahead of its end, as Kie has them by `completeTime`."""

PREPARE = -1
"""The heap's event marker for a prepare event (progress events carry 0 to 100)."""

RESULT_AHEAD_S = 2.0
"""How long before a task's end its result files are made (at most half its run)."""


class CallbackDispatcher:
    """Calls `on_due` when an event's time passes and POSTs the deliveries it returns.

    `schedule` may be called from any thread (tests force outcomes from the test thread while
    the server's loop runs elsewhere); everything else runs on the server's event loop.
    """

    def __init__(
        self,
        settings: EmulatorSettings,
        on_due: DueHandler,
        on_attempt: Callable[[DeliveryAttempt], None],
        on_prepare: PrepareHandler | None = None,
    ) -> None:
        self._settings = settings
        self._on_due = on_due
        self._on_attempt = on_attempt
        self._on_prepare = on_prepare
        self._heap: list[tuple[float, int, str, int | None]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done()

    def schedule(self, task_id: str, due: float, progress: int | None = None) -> None:
        with self._lock:
            heapq.heappush(self._heap, (due, next(self._seq), task_id, progress))
        self._poke()

    def schedule_prepare(self, task_id: str, ends_at: float, run_s: float) -> None:
        """Call the prepare handler for a task of `run_s` seconds shortly before `ends_at`."""
        self.schedule(task_id, ends_at - min(RESULT_AHEAD_S, run_s / 2), PREPARE)

    def ensure_running(self) -> None:
        """Start the scheduler on the current loop unless it already runs there."""
        loop = asyncio.get_running_loop()
        if self.running and self._loop is loop:
            return
        self._loop = loop
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        self._client = httpx.AsyncClient(timeout=self._settings.callback_timeout_s)
        self._inflight = set()
        self._runner = loop.create_task(self._run(), name="kie-emulator-callbacks")

    async def aclose(self) -> None:
        runner, inflight, client = self._runner, self._inflight, self._client
        self._runner, self._inflight, self._client = None, set(), None
        pending = [t for t in (runner, *inflight) if t is not None]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if client is not None:
            await client.aclose()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    def _pop_due(self, now: float) -> list[tuple[float, str, int | None]]:
        due: list[tuple[float, str, int | None]] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                when, _, task_id, progress = heapq.heappop(self._heap)
                due.append((when, task_id, progress))
        return due

    def _next_wait(self, now: float) -> float | None:
        with self._lock:
            return max(0.0, self._heap[0][0] - now) if self._heap else None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            for due, task_id, progress in self._pop_due(time.time()):
                if progress == PREPARE:
                    self._start_prepare(task_id)
                    continue
                try:
                    deliveries = self._on_due(task_id, due, progress)
                except Exception:
                    log.exception("emulator: finishing task %s failed", task_id)
                    continue
                for delivery in deliveries:
                    task = asyncio.create_task(self._deliver(delivery))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
            wait = self._next_wait(time.time())
            if wait is None or wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    def _start_prepare(self, task_id: str) -> None:
        if self._on_prepare is None:
            return
        task = asyncio.create_task(self._prepare(self._on_prepare, task_id))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    @staticmethod
    async def _prepare(on_prepare: PrepareHandler, task_id: str) -> None:
        # Best effort: a result not made ahead is made when it is first downloaded.
        try:
            await on_prepare(task_id)
        except Exception:
            log.exception("emulator: preparing the result of %s failed", task_id)

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._slots is not None
        # Progress callbacks are best-effort: a lost one is superseded by the next.
        attempts = self._settings.callback_attempts if delivery.kind == "completion" else 1
        async with self._slots:
            for attempt in range(1, max(1, attempts) + 1):
                if attempt > 1:
                    await asyncio.sleep(self._settings.callback_backoff_s * 2 ** (attempt - 2))
                result = await self._post(delivery, attempt)
                self._on_attempt(result)
                if result.ok:
                    return
        if delivery.kind == "completion":
            log.warning("emulator: callback for %s to %s gave up", delivery.task_id, delivery.url)

    async def _post(self, delivery: Delivery, attempt: int) -> DeliveryAttempt:
        assert self._client is not None
        headers: dict[str, str] = {}
        key = self._settings.webhook_hmac_key
        if key:
            timestamp = int(time.time())
            headers["X-Webhook-Timestamp"] = str(timestamp)
            headers["X-Webhook-Signature"] = sign(key, delivery.task_id, timestamp)
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(delivery.url, json=delivery.body, headers=headers)
            status = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return DeliveryAttempt(
            delivery.task_id, delivery.url, attempt, status, error, time.time(), delivery.kind
        )
