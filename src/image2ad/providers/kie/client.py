"""Async HTTP client for Kie.ai's market API and file-upload host (kie-api.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from image2ad.observability import events
from image2ad.providers.base import TaskRecord, UploadedFile
from image2ad.providers.errors import (
    ProviderError,
    ProviderModelUnavailable,
    ProviderNetworkError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderSubmitUncertain,
    ProviderUnavailable,
)
from image2ad.providers.kie.error_map import map_error
from image2ad.providers.kie.schemas import (
    CreateTaskRequest,
    CreateTaskResponse,
    CreditResponse,
    DownloadUrlRequest,
    DownloadUrlResponse,
    EnvelopeHead,
    RecordInfoResponse,
    UploadResponse,
)

_log = logging.getLogger(__name__)

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)

UploadData = bytes | AsyncIterable[bytes] | IO[bytes]

# Failures raised before a single byte of the request left this machine.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# Lookups whose only input is a task id: a "not found" answer means the task is unknown.
_TASK_LOOKUPS = frozenset({"recordInfo", "veo record-info"})


def _retry_safe(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def _retry_create(exc: BaseException) -> bool:
    if isinstance(exc, ProviderRateLimited | ProviderUnavailable):
        return True  # Kie refused the request outright; no task exists.
    return isinstance(exc, ProviderNetworkError) and isinstance(exc.__cause__, _NOT_SENT)


def _read_json(response: httpx.Response) -> tuple[EnvelopeHead | None, Any]:
    try:
        body = response.json()
        return EnvelopeHead.model_validate(body), body
    except ValueError:  # includes JSON decoding and pydantic's ValidationError
        return None, None


def _is_success(response: httpx.Response, head: EnvelopeHead | None) -> bool:
    return response.is_success and head is not None and head.code == 200


def _explain(exc: Exception) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _describe(response: httpx.Response, head: EnvelopeHead | None) -> str:
    if head is not None and head.text:
        return head.text
    snippet = response.text[:200].strip()
    return f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")


class KieClient:
    """One connection pool per instance; close it with `aclose()` or `async with`."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.kie.ai",
        upload_base_url: str = "https://kieai.redpandaai.co",
        *,
        timeout_s: float = 30.0,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key.strip():
            raise ValueError("api_key is empty")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._base_url = base_url.rstrip("/")
        self._upload_base_url = upload_base_url.rstrip("/")
        self._max_retries = max_retries
        self._wait = wait_exponential_jitter(
            multiplier=backoff_base_s, max=backoff_max_s, jitter=backoff_base_s
        )
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {api_key.strip()}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"KieClient(base_url={self._base_url!r}, upload_base_url={self._upload_base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def create_task(
        self,
        model: str,
        input: dict[str, Any],
        *,
        callback_url: str | None = None,
        progress_callback_url: str | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> str:
        """Submit a generation task and return Kie's task id. Never re-sent once it may have
        reached Kie: a second copy would be a second billed task.

        `pace` is awaited before each re-send after a refusal, so retries keep the caller's
        rate limit too (the first send is the caller's to pace).
        """
        payload = CreateTaskRequest(
            model=model,
            input=input,
            call_back_url=callback_url,
            progress_call_back_url=progress_callback_url,
        ).to_wire()
        url = f"{self._base_url}/api/v1/jobs/createTask"
        return await self._submit("createTask", url, payload, pace)

    async def _submit(
        self,
        op: str,
        url: str,
        payload: dict[str, Any],
        pace: Callable[[], Awaitable[None]] | None,
    ) -> str:
        """POST a paid task submission and return `data.taskId`. Re-sent only after errors
        raised before sending and after explicit refusals (rate limits, outages)."""

        async def attempt(number: int) -> str:
            if number > 1 and pace is not None:
                await pace()
            try:
                response = await self._send(op, number, "POST", url, json=payload)
            except _NOT_SENT as exc:
                raise ProviderNetworkError(f"Kie {op}: {_explain(exc)}") from exc
            except httpx.RequestError as exc:
                raise ProviderSubmitUncertain(
                    f"Kie {op}: no answer after sending ({_explain(exc)}); the task may exist"
                ) from exc
            head, body = _read_json(response)
            if _is_success(response, head):
                try:
                    return CreateTaskResponse.model_validate(body).data.task_id
                except ValidationError as exc:
                    raise ProviderSubmitUncertain(
                        f"Kie {op}: success without a task id; the task may exist"
                    ) from exc
            has_verdict = head is not None and head.code not in (None, 200)
            if not has_verdict and (response.is_server_error or response.is_success):
                raise ProviderSubmitUncertain(
                    f"Kie {op}: {_describe(response, head)}; the task may exist",
                    provider_code=None if head is None else head.code,
                )
            raise self._error(op, response, head)

        return await self._retrying(op, attempt, _retry_create)

    async def record_info(self, task_id: str) -> TaskRecord:
        if not task_id:
            raise ValueError("task_id is empty")
        record = await self._call(
            "recordInfo",
            RecordInfoResponse,
            "GET",
            f"{self._base_url}/api/v1/jobs/recordInfo",
            params={"taskId": task_id},
            headers={"Content-Type": "application/json"},
        )
        if record.data.task_id != task_id:
            raise ProviderServerError(
                f"Kie recordInfo: asked for task {task_id!r}, got {record.data.task_id!r}"
            )
        return record.data.to_task_record()

    async def credit(self) -> float:
        response = await self._call(
            "credit",
            CreditResponse,
            "GET",
            f"{self._base_url}/api/v1/chat/credit",
            headers={"Content-Type": "application/json"},
        )
        return response.data

    async def download_url(self, url: str) -> str:
        """A temporary (20 min) direct link for a file Kie generated."""
        response = await self._call(
            "download-url",
            DownloadUrlResponse,
            "POST",
            f"{self._base_url}/api/v1/common/download-url",
            json=DownloadUrlRequest(url=url).model_dump(by_alias=True),
        )
        return response.data

    async def upload_file(
        self,
        data: UploadData,
        *,
        file_name: str,
        upload_path: str,
        content_type: str,
    ) -> UploadedFile:
        """Place a file on Kie's upload host. Kie overwrites same-named files: names must be
        unique per upload."""
        upload_path = upload_path.strip("/")
        if not upload_path or not file_name:
            raise ValueError("upload_path and file_name are required")
        content = await _read_all(data)
        response = await self._call(
            "upload",
            UploadResponse,
            "POST",
            f"{self._upload_base_url}/api/file-stream-upload",
            data={"uploadPath": upload_path, "fileName": file_name},
            files={"file": (file_name, content, content_type)},
        )
        return response.data.to_uploaded_file(fallback_name=file_name, fallback_size=len(content))

    async def _call(
        self, op: str, model: type[ModelT], method: str, url: str, **kwargs: Any
    ) -> ModelT:
        """A call that is safe to repeat: retried on rate limits, outages and network errors."""
        result = await self._call_pending(op, model, method, url, frozenset(), **kwargs)
        assert result is not None  # no body code counts as pending
        return result

    async def _call_pending(
        self,
        op: str,
        model: type[ModelT],
        method: str,
        url: str,
        pending_codes: frozenset[int],
        **kwargs: Any,
    ) -> ModelT | None:
        """Like `_call`, but None (at once, no retry) when an HTTP-2xx answer carries one of
        `pending_codes` in its body: Kie's "not ready yet"."""

        async def attempt(number: int) -> ModelT | None:
            try:
                response = await self._send(op, number, method, url, **kwargs)
            except httpx.RequestError as exc:
                raise ProviderNetworkError(f"Kie {op}: {_explain(exc)}") from exc
            head, body = _read_json(response)
            if response.is_success and head is not None and head.code in pending_codes:
                return None
            if not _is_success(response, head):
                raise self._error(op, response, head)
            try:
                return model.model_validate(body)
            except ValidationError as exc:
                raise ProviderServerError(f"Kie {op}: unexpected response shape") from exc

        return await self._retrying(op, attempt, _retry_safe)

    def _error(self, op: str, response: httpx.Response, head: EnvelopeHead | None) -> ProviderError:
        return map_error(
            operation=op,
            http_status=response.status_code,
            code=None if head is None else head.code,
            message=_describe(response, head),
            task_lookup=op in _TASK_LOOKUPS,
        )

    async def _send(
        self, op: str, attempt: int, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        # Logs the operation and outcome only: headers carry the API key.
        started = time.monotonic()
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            elapsed_ms = (time.monotonic() - started) * 1000
            _log.debug(
                "kie %s attempt %d: %s after %.0f ms", op, attempt, type(exc).__name__, elapsed_ms
            )
            raise
        elapsed_ms = (time.monotonic() - started) * 1000
        _log.debug(
            "kie %s attempt %d: HTTP %d in %.0f ms", op, attempt, response.status_code, elapsed_ms
        )
        return response

    async def _retrying(
        self,
        op: str,
        attempt: Callable[[int], Awaitable[T]],
        should_retry: Callable[[BaseException], bool],
    ) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            before_sleep=lambda state: _log_retry(op, state),
            reraise=True,
        )
        async for try_ in retrying:
            with try_:
                return await _counted(op, attempt(try_.retry_state.attempt_number))
        raise AssertionError("unreachable: tenacity re-raises the last error")


async def _counted(op: str, call: Awaitable[T]) -> T:
    """Every attempt at every operation is counted here, by its outcome (GET /metrics)."""
    try:
        result = await call
    except ProviderError as exc:
        events.provider_request(op, outcome(exc))
        raise
    events.provider_request(op, "ok")
    return result


def outcome(exc: ProviderError) -> str:
    """The outcome label of a failed attempt."""
    if isinstance(exc, ProviderRateLimited):
        return "rate_limited"
    if isinstance(exc, ProviderModelUnavailable):
        return "model_unavailable"
    if isinstance(exc, ProviderUnavailable):
        return "unavailable"
    if isinstance(exc.__cause__, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc.__cause__, httpx.RequestError):
        return "network_error"
    return "http_error"


def _log_retry(op: str, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else 0.0
    _log.debug("kie %s: retrying in %.2f s after %r", op, delay, error)


async def _read_all(data: UploadData) -> bytes:
    # Buffered so that a retried upload re-sends identical bytes; Kie caps inputs at 10 MB.
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, AsyncIterable):
        return b"".join([chunk async for chunk in data])
    return await asyncio.to_thread(data.read)
