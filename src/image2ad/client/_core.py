"""What Client and AsyncClient share, without I/O: request bodies, the retry policy, Server-Sent
Events parsing and the bookkeeping of a wait."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from image2ad.client.errors import Conflict, Image2adError, JobFailed, RateLimited, ServerError
from image2ad.client.errors import from_response as from_response
from image2ad.client.models import Job, Upload

API = "/api/v1"
USER_AGENT = "image2ad-python-client"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 3
POLL_FIRST_S = 0.5
POLL_MAX_S = 5.0
RETRY_AFTER_MAX_S = 60.0

# A path (str or PathLike), the bytes of an image, a binary file object, or an earlier upload.
ImageInput = str | os.PathLike[str] | bytes | IO[bytes] | Upload
OnUpdate = Callable[[Job], object]

# These never reached the server, so sending again cannot do anything twice.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_backoff = wait_exponential_jitter(multiplier=0.5, max=8.0, jitter=0.5)


def headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}


def new_idempotency_key() -> str:
    return f"sdk-{uuid.uuid4().hex}"


def job_id(job: Job | str) -> str:
    return job if isinstance(job, str) else job.id


def check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise from_response(response)
    return response


def finished(job: Job) -> Job:
    """The job when it completed; JobFailed when it failed or was canceled."""
    if job.status != "completed":
        raise JobFailed(job)
    return job


def retry_options(max_retries: int, *, replayable: bool) -> dict[str, Any]:
    """tenacity options. `replayable`: sending the request twice does no harm (a read, or a
    create carrying its Idempotency-Key), so an answer lost on the way back may be asked again."""

    def should_retry(exc: BaseException) -> bool:
        if isinstance(exc, (*_UNSENT, RateLimited)):
            return True
        if isinstance(exc, httpx.TransportError):
            return replayable
        if isinstance(exc, ServerError):
            return exc.status == 503 or (replayable and exc.status in (502, 504))
        return isinstance(exc, Conflict) and exc.code == "request_in_flight"

    return {
        "stop": stop_after_attempt(max_retries + 1),
        "wait": _wait,
        "retry": retry_if_exception(should_retry),
        "reraise": True,
    }


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, Image2adError) and error.retry_after is not None:
        return min(error.retry_after, RETRY_AFTER_MAX_S)
    return _backoff(state)


def image_file(image: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None) -> Any:
    """The multipart `file` of an upload, held in memory so a retry can send it again (the API
    takes at most 10 MB)."""
    if isinstance(image, bytes):
        return {"file": (filename or "image", image)}
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        return {"file": (filename or path.name, path.read_bytes())}
    name = filename or os.path.basename(str(getattr(image, "name", "") or "image"))
    return {"file": (name, image.read())}


def job_body(
    type_: str,
    prompt: str,
    *,
    model: str | None,
    aspect_ratio: str | None,
    source_upload_id: str | None,
    source_job_id: str | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "prompt": prompt}
    optional = {
        "model": model,
        "aspect_ratio": aspect_ratio,
        "source_upload_id": source_upload_id,
        "source_job_id": source_job_id,
        "params": params or None,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def pack_body(
    type_: str,
    prompt: str,
    placements: list[str],
    *,
    variants: int,
    model: str | None,
    source_upload_id: str | None,
    source_job_id: str | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    body = job_body(
        type_,
        prompt,
        model=model,
        aspect_ratio=None,
        source_upload_id=source_upload_id,
        source_job_id=source_job_id,
        params=params,
    )
    return body | {"placements": placements, "variants": variants}


def query(**values: Any) -> dict[str, Any]:
    """Query parameters, leaving out the ones not given."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif value is not None:
            out[name] = value
    return out


def next_poll(delay: float) -> float:
    return min(delay * 1.5, POLL_MAX_S)


@dataclass
class Event:
    event: str
    data: str


class SSEDecoder:
    """Server-Sent Events, line by line (WHATWG's event stream format: `event:` and `data:`
    fields, a blank line ends an event, `:` starts a comment such as the server's pings)."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        if not line:
            event = Event(self._event or "message", "\n".join(self._data)) if self._data else None
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


def job_of(event: Event | None) -> Job | None:
    if event is None or event.event != "job":
        return None
    return Job.model_validate_json(event.data)


class Changes:
    """Calls `on_update` with each job whose status, stage or progress differs from the last."""

    def __init__(self, on_update: OnUpdate | None) -> None:
        self._on_update = on_update
        self._last: tuple[str, str | None, int | None] | None = None

    def see(self, job: Job) -> object:
        state = (job.status, job.stage, job.progress)
        if state == self._last or self._on_update is None:
            self._last = state
            return None
        self._last = state
        return self._on_update(job)
