"""What the job pipeline needs from a generation provider, independent of Kie's wire format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class TaskState(StrEnum):
    WAITING = "waiting"
    QUEUING = "queuing"
    GENERATING = "generating"
    SUCCESS = "success"
    FAIL = "fail"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.SUCCESS, TaskState.FAIL)


@dataclass(frozen=True)
class TaskRecord:
    """One provider task as reported by recordInfo (the callback is only a hint)."""

    task_id: str
    model: str
    state: TaskState
    result_urls: list[str] = field(default_factory=list)
    fail_code: str | None = None
    fail_message: str | None = None
    progress: int | None = None
    credits_consumed: float | None = None
    cost_time: int | None = None
    create_time_ms: int | None = None
    complete_time_ms: int | None = None
    param: dict[str, Any] | None = None


@dataclass(frozen=True)
class UploadedFile:
    """A file placed on the provider's upload host, reachable by the provider at download_url."""

    download_url: str
    file_name: str
    file_size: int | None = None
    mime_type: str | None = None


class TaskApi(Protocol):
    """Submit and look up generation tasks; KieClient (market) and VeoApi (Veo) both are one."""

    async def create_task(
        self,
        model: str,
        input: dict[str, Any],
        *,
        callback_url: str | None = None,
        progress_callback_url: str | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> str:
        """Kie's task id. Never re-sent once the request may have reached the provider."""
        ...

    async def record_info(self, task_id: str) -> TaskRecord:
        """The task as the provider reports it now (the authoritative record)."""
        ...
