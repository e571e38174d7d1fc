"""Typed errors for the API's `{"error": {"code", "message", "field"}}` answers, and for jobs
that end badly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from image2ad.client.models import Job


class Image2adError(Exception):
    """Anything the SDK raises: `status` is the HTTP status (None when there was no answer)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.retry_after: float | None = None

    def __str__(self) -> str:
        head = f"({self.status}) " if self.status is not None else ""
        return f"{head}{self.code}: {self.message}" if self.code else f"{head}{self.message}"


class AuthenticationError(Image2adError):
    """401: the API key is missing, wrong or revoked."""


class InsufficientCredits(Image2adError):
    """402: the job costs more credits than the account holds."""


class NotFound(Image2adError):
    """404: no such thing, or it is not yours."""


class Conflict(Image2adError):
    """409: the request does not fit the current state (e.g. canceling a finished job)."""


class ModelUnavailable(Conflict):
    """409 `model_unavailable`: Kie does not run this model now."""


class InvalidInput(Image2adError):
    """422: a field is wrong; `field` names it."""


class RateLimited(Image2adError):
    """429: too many requests or too many unfinished jobs; `retry_after` is in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | None = "rate_limited",
        field: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, field=field)
        self.retry_after = retry_after


class ServerError(Image2adError):
    """5xx: the server or a proxy in front of it failed."""


class NetworkError(Image2adError):
    """No answer: the connection failed or broke, after every retry."""


class JobFailed(Image2adError):
    """The job ended `failed` or `canceled`; `job` is its final state (credits refunded in it)."""

    def __init__(self, job: Job) -> None:
        error = job.error
        message = error.message if error else f"job {job.id} {job.status}"
        super().__init__(message, code=error.code if error else job.status)
        self.job = job


class WaitTimeout(Image2adError):
    """`run` gave up waiting; `job` is its last known state (it goes on on the server)."""

    def __init__(self, job: Job, waited_s: float) -> None:
        super().__init__(f"job {job.id} still {job.status} after {waited_s:.0f}s", code="timeout")
        self.job = job


def from_response(response: httpx.Response) -> Image2adError:
    """The typed error for an answer with status >= 400."""
    status = response.status_code
    code, message, field = f"http_{status}", response.reason_phrase or "error", None
    try:
        body = response.json()["error"]
        code, message, field = str(body["code"]), str(body["message"]), body.get("field")
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:200] or message
    if status == 429:
        retry_after = _seconds(response.headers.get("Retry-After"))
        return RateLimited(message, retry_after=retry_after, status=status, code=code, field=field)
    if status == 409 and code == "model_unavailable":
        return ModelUnavailable(message, status=status, code=code, field=field)
    by_status: dict[int, type[Image2adError]] = {
        401: AuthenticationError,
        402: InsufficientCredits,
        404: NotFound,
        409: Conflict,
        422: InvalidInput,
    }
    cls = by_status.get(status, ServerError if status >= 500 else Image2adError)
    error = cls(message, status=status, code=code, field=field)
    if status == 503:
        error.retry_after = _seconds(response.headers.get("Retry-After"))
    return error


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
