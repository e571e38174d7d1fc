from __future__ import annotations

import pytest

from image2ad.providers import errors
from image2ad.providers.kie.error_map import map_error

# The calls that name a model, and calls that do not (the client's operation names).
MODEL_CALLS = ("createTask", "veo generate")
OTHER_CALLS = ("recordInfo", "credit", "download-url", "upload", "veo record-info")


@pytest.mark.parametrize("operation", ["credit", "recordInfo", "upload"])
@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (400, errors.ProviderValidationError),
        (401, errors.ProviderAuthError),
        (402, errors.ProviderOutOfCredits),
        (404, errors.ProviderError),
        (422, errors.ProviderValidationError),
        (429, errors.ProviderRateLimited),
        (433, errors.ProviderKeyLimit),
        (455, errors.ProviderUnavailable),
        (500, errors.ProviderServerError),
        (501, errors.ProviderGenerationFailed),
        (505, errors.ProviderFeatureDisabled),
        (418, errors.ProviderError),
        (599, errors.ProviderServerError),
    ],
)
def test_body_code_decides_even_under_http_200(
    operation: str, code: int, error_type: type[errors.ProviderError]
) -> None:
    error = map_error(operation=operation, http_status=200, code=code, message="why")
    assert type(error) is error_type
    assert error.provider_code == code
    assert error.message == f"Kie {operation}: why"


@pytest.mark.parametrize("operation", MODEL_CALLS)
@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (400, errors.ProviderValidationError),
        (401, errors.ProviderAuthError),
        (402, errors.ProviderOutOfCredits),
        (422, errors.ProviderValidationError),
        (429, errors.ProviderRateLimited),
        (433, errors.ProviderKeyLimit),
        (500, errors.ProviderServerError),
        (501, errors.ProviderGenerationFailed),
    ],
)
def test_model_calls_map_other_refusals_as_every_call_does(
    operation: str, code: int, error_type: type[errors.ProviderError]
) -> None:
    error = map_error(operation=operation, http_status=200, code=code, message="why")
    assert type(error) is error_type
    assert error.provider_code == code


# Kie refusing the model itself, on the calls that name one (kie-models.md §2)

MODEL_REFUSALS = [
    (500, "This interface is temporarily paused.", "paused"),
    (422, "The model name you specified is not supported", "unknown"),
    (455, "The service is under maintenance, please try again later", "maintenance"),
    (505, "The model sora-2-text-to-video is currently disabled", "disabled"),
]


@pytest.mark.parametrize("operation", MODEL_CALLS)
@pytest.mark.parametrize(("code", "message", "kind"), MODEL_REFUSALS)
def test_model_refusals_on_model_calls_are_model_unavailable(
    operation: str, code: int, message: str, kind: str
) -> None:
    error = map_error(operation=operation, http_status=200, code=code, message=message)
    assert type(error) is errors.ProviderModelUnavailable
    assert error.kind == kind
    assert error.code == "model_unavailable"
    assert not error.retryable
    assert error.provider_code == code
    assert error.message == f"Kie {operation}: {message}"


def test_veo_unknown_model_message_with_the_known_list_is_unknown() -> None:
    message = "The model name you specified is not supported (Veo: veo3, veo3_fast)"
    error = map_error(operation="veo generate", http_status=200, code=422, message=message)
    assert isinstance(error, errors.ProviderModelUnavailable)
    assert error.kind == "unknown"


@pytest.mark.parametrize("operation", OTHER_CALLS)
@pytest.mark.parametrize(
    ("code", "error_type"),
    [(455, errors.ProviderUnavailable), (505, errors.ProviderFeatureDisabled)],
)
def test_maintenance_and_disabled_elsewhere_keep_their_meaning(
    operation: str, code: int, error_type: type[errors.ProviderError]
) -> None:
    error = map_error(
        operation=operation,
        http_status=200,
        code=code,
        message="why",
        task_lookup=operation in ("recordInfo", "veo record-info"),
    )
    assert type(error) is error_type
    assert error.retryable is (code == 455)


@pytest.mark.parametrize("operation", OTHER_CALLS)
def test_paused_message_elsewhere_is_a_server_error(operation: str) -> None:
    error = map_error(
        operation=operation,
        http_status=200,
        code=500,
        message="This interface is temporarily paused.",
    )
    assert type(error) is errors.ProviderServerError
    assert error.retryable


@pytest.mark.parametrize("operation", [*MODEL_CALLS, *OTHER_CALLS])
@pytest.mark.parametrize(
    "message", ["`prompt` is required", "prompt is required", "This field is required"]
)
def test_body_500_naming_a_required_field_is_a_validation_error(
    operation: str, message: str
) -> None:
    # Kie's answer to a missing input field; on a create call it also means the model is live.
    error = map_error(operation=operation, http_status=200, code=500, message=message)
    assert type(error) is errors.ProviderValidationError
    assert not error.retryable
    assert error.provider_code == 500
    assert error.message == f"Kie {operation}: {message}"


@pytest.mark.parametrize("operation", [*MODEL_CALLS, *OTHER_CALLS])
@pytest.mark.parametrize("message", ["Internal error", "Server exception, please try again"])
def test_other_body_500_stays_a_server_error(operation: str, message: str) -> None:
    error = map_error(operation=operation, http_status=200, code=500, message=message)
    assert type(error) is errors.ProviderServerError
    assert error.retryable


@pytest.mark.parametrize("operation", MODEL_CALLS)
@pytest.mark.parametrize(
    "message",
    [
        "input.aspect_ratio must be one of: 16:9, 9:16, 1:1",
        "Ratio error: aspect_ratio must be one of 16:9, 9:16, Auto",
        'input.duration must be a string from "3" to "15"',
        "input.mode 4K is not supported by this model",
    ],
)
def test_422_about_a_field_stays_a_validation_error(operation: str, message: str) -> None:
    error = map_error(operation=operation, http_status=200, code=422, message=message)
    assert type(error) is errors.ProviderValidationError
    assert error.provider_code == 422


def test_body_code_wins_over_http_status() -> None:
    error = map_error(operation="credit", http_status=500, code=401, message="bad key")
    assert type(error) is errors.ProviderAuthError


@pytest.mark.parametrize("code", [404, 422])
def test_record_info_unknown_task(code: int) -> None:
    error = map_error(
        operation="recordInfo",
        http_status=200,
        code=code,
        message="recordInfo is null",
        task_lookup=True,
    )
    assert type(error) is errors.ProviderTaskNotFound
    assert "recordInfo is null" in error.message


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, errors.ProviderValidationError),
        (401, errors.ProviderAuthError),
        (403, errors.ProviderAuthError),
        (402, errors.ProviderOutOfCredits),
        (404, errors.ProviderError),
        (422, errors.ProviderValidationError),
        (429, errors.ProviderRateLimited),
        (455, errors.ProviderUnavailable),
        (500, errors.ProviderServerError),
        (502, errors.ProviderServerError),
        (503, errors.ProviderUnavailable),
        (200, errors.ProviderServerError),
        (302, errors.ProviderError),
    ],
)
def test_http_status_when_the_body_has_no_code(
    status: int, error_type: type[errors.ProviderError]
) -> None:
    for code in (None, 200):
        error = map_error(operation="credit", http_status=status, code=code, message="")
        assert type(error) is error_type
        assert error.message == f"Kie credit: HTTP {status}"


def test_http_404_without_a_body_code_is_not_task_not_found() -> None:
    # A bare 404 more likely means a wrong base URL than an unknown task.
    error = map_error(
        operation="recordInfo", http_status=404, code=None, message="", task_lookup=True
    )
    assert type(error) is errors.ProviderError
