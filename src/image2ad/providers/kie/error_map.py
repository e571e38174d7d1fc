"""Turn a Kie answer into a ProviderError: body `code` first, HTTP status second (§2.3)."""

from __future__ import annotations

from image2ad.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderFeatureDisabled,
    ProviderGenerationFailed,
    ProviderKeyLimit,
    ProviderModelUnavailable,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTaskNotFound,
    ProviderUnavailable,
    ProviderValidationError,
)

_BODY_CODES: dict[int, type[ProviderError]] = {
    400: ProviderValidationError,
    401: ProviderAuthError,
    402: ProviderOutOfCredits,
    408: ProviderServerError,
    422: ProviderValidationError,
    429: ProviderRateLimited,
    433: ProviderKeyLimit,
    455: ProviderUnavailable,
    500: ProviderServerError,
    501: ProviderGenerationFailed,
    505: ProviderFeatureDisabled,
}

# Kie usually answers HTTP 200 and puts the verdict in the body; a bare status comes from
# Kie's edge or a proxy in front of it.
_HTTP_STATUSES: dict[int, type[ProviderError]] = {
    400: ProviderValidationError,
    401: ProviderAuthError,
    402: ProviderOutOfCredits,
    403: ProviderAuthError,
    422: ProviderValidationError,
    429: ProviderRateLimited,
    455: ProviderUnavailable,
    503: ProviderUnavailable,
}

# recordInfo reports an unknown task as `{"code":422,"msg":"recordInfo is null"}` (live) or 404
# (docs); its only input is the task id, so neither can mean anything else there.
_TASK_NOT_FOUND_CODES = frozenset({404, 422})


# The calls that name a model: only their refusals can mean the model is gone.
MODEL_CALLS = frozenset({"createTask", "veo generate"})


def model_unavailability(code: int | None, message: str) -> str | None:
    """Why Kie will not run a model, from a create call's refusal; None for other refusals.

    Paused: body 500 "This interface is temporarily paused." (a 500 saying a field is required
    means the model is live); unknown: 422 "...model name you specified is not supported".
    """
    text = message.lower()
    if code == 500 and "paused" in text:
        return "paused"
    # Kie's words name the model; a field refused "by this model" is only a bad input.
    if code == 422 and "model name" in text and "not supported" in text:
        return "unknown"
    return {455: "maintenance", 505: "disabled"}.get(code or 0)


def map_error(
    *,
    operation: str,
    http_status: int,
    code: int | None,
    message: str,
    task_lookup: bool = False,
) -> ProviderError:
    """The error for a failed call; `code` is the body code, None when the body had none."""
    text = f"Kie {operation}: {message or f'HTTP {http_status}'}"
    kind = model_unavailability(code, message) if operation in MODEL_CALLS else None
    if kind is not None:
        return ProviderModelUnavailable(text, provider_code=code, kind=kind)
    if code is not None and code != 200:
        if code == 500 and "required" in message.lower():
            # Kie's answer to a missing input field is a 500 naming it (kie-models.md §2).
            return ProviderValidationError(text, provider_code=code)
        if task_lookup and code in _TASK_NOT_FOUND_CODES:
            return ProviderTaskNotFound(text, provider_code=code)
        error_type = _BODY_CODES.get(code)
        if error_type is None:
            error_type = ProviderServerError if code >= 500 else ProviderError
        return error_type(text, provider_code=code)
    error_type = _HTTP_STATUSES.get(http_status)
    if error_type is None:
        error_type = (
            ProviderServerError if http_status >= 500 or http_status < 300 else ProviderError
        )
    return error_type(text, provider_code=code)
