"""Provider failures as domain errors, keyed by Kie's body `code` (kie-api.md §2.3)."""

from __future__ import annotations


class ProviderError(Exception):
    """A provider call failed. `retryable` says a *safe* call may be repeated later."""

    code: str = "provider_error"
    retryable: bool = False

    def __init__(self, message: str, *, provider_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider_code = provider_code


class ProviderAuthError(ProviderError):
    code = "provider_auth"


class ProviderOutOfCredits(ProviderError):
    code = "provider_out_of_credits"


class ProviderValidationError(ProviderError):
    code = "provider_rejected_input"


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    retryable = True


class ProviderKeyLimit(ProviderError):
    code = "provider_key_limit"


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    retryable = True


class ProviderServerError(ProviderError):
    code = "provider_server_error"
    retryable = True


class ProviderGenerationFailed(ProviderError):
    code = "provider_generation_failed"


class ProviderFeatureDisabled(ProviderError):
    """The model or feature is switched off at the provider (e.g. a withdrawn model)."""

    code = "provider_feature_disabled"


class ProviderModelUnavailable(ProviderError):
    """Kie will not run this model now: paused at its maker, unknown (withdrawn), under
    maintenance or disabled (kie-models.md §2). Not transient: no retry helps for a while."""

    code = "model_unavailable"

    def __init__(self, message: str, *, provider_code: int | None = None, kind: str) -> None:
        super().__init__(message, provider_code=provider_code)
        self.kind = kind


class ProviderTaskNotFound(ProviderError):
    """recordInfo knows no such task (`{"code":422,"msg":"recordInfo is null"}`)."""

    code = "provider_task_not_found"


class ProviderNetworkError(ProviderError):
    code = "provider_network"
    retryable = True


class ProviderSubmitUncertain(ProviderError):
    """createTask may have reached the provider but we have no task id (timeout after sending).

    Never re-send blindly: the task may exist and bill. The pipeline waits for a callback
    naming the job to adopt the orphan, and resubmits only after a grace period.
    """

    code = "provider_submit_uncertain"
