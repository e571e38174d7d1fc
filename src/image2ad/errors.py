"""Domain errors carry their HTTP status; one handler renders them (services never raise HTTP)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.headers = headers
        self.extra = extra


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class ModelUnavailable(DomainError):
    status_code = 409
    code = "model_unavailable"


class InsufficientCredits(DomainError):
    status_code = 402
    code = "insufficient_credits"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class IdempotencyMismatch(DomainError):
    status_code = 422
    code = "idempotency_key_reused"


class RequestInFlight(DomainError):
    status_code = 409
    code = "request_in_flight"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"


class TooManyActiveJobs(DomainError):
    status_code = 429
    code = "too_many_active_jobs"


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting our error body for these statuses."""
    return {status: {"model": ErrorBody} for status in statuses}


COMMON_ERRORS = error_responses(401, 403, 404, 422, 429, 503)
