"""Kie's Veo 3.1 API family (kie-models.md §3.3) on a KieClient's pool, auth and retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from image2ad.providers.base import TaskRecord
from image2ad.providers.errors import ProviderServerError
from image2ad.providers.kie.client import KieClient
from image2ad.providers.kie.veo_schemas import FullHdResponse, VeoRecordInfoResponse

# Kie answers get-1080p-video with body code 500 until the 1080P file is made (kie-models.md
# §3.3, single source).
_FULL_HD_PENDING = frozenset({500})


class VeoApi:
    """Veo tasks: `create_task` and `record_info` as on KieClient (the TaskApi protocol)."""

    def __init__(self, client: KieClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"VeoApi({self._client!r})"

    @property
    def _base_url(self) -> str:
        return self._client._base_url

    async def create_task(
        self,
        model: str,
        input: dict[str, Any],
        *,
        callback_url: str | None = None,
        progress_callback_url: str | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> str:
        """Submit a Veo generation; never re-sent once it may have reached Kie.

        The body is flat: `input`'s fields beside `model` (no `input` object). Veo sends no
        progress callbacks, so `progress_callback_url` is ignored.
        """
        payload: dict[str, Any] = {**input, "model": model}
        if callback_url is not None:
            payload["callBackUrl"] = callback_url
        url = f"{self._base_url}/api/v1/veo/generate"
        return await self._client._submit("veo generate", url, payload, pace)

    async def record_info(self, task_id: str) -> TaskRecord:
        if not task_id:
            raise ValueError("task_id is empty")
        record = await self._client._call(
            "veo record-info",
            VeoRecordInfoResponse,
            "GET",
            f"{self._base_url}/api/v1/veo/record-info",
            params={"taskId": task_id},
        )
        if record.data.task_id != task_id:
            raise ProviderServerError(
                f"Kie veo record-info: asked for task {task_id!r}, got {record.data.task_id!r}"
            )
        return record.data.to_task_record()

    async def full_hd_url(self, task_id: str, index: int = 0) -> str | None:
        """The 1080P version of a finished 16:9 task, or None while Kie is still making it."""
        if not task_id:
            raise ValueError("task_id is empty")
        response = await self._client._call_pending(
            "veo get-1080p-video",
            FullHdResponse,
            "GET",
            f"{self._base_url}/api/v1/veo/get-1080p-video",
            _FULL_HD_PENDING,
            params={"taskId": task_id, "index": index},
        )
        return None if response is None else response.data.result_url
