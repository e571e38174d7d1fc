from __future__ import annotations

import pytest

from image2ad.providers import errors
from image2ad.providers.kie.error_map import map_error


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
    code: int, error_type: type[errors.ProviderError]
) -> None:
    error = map_error(operation="createTask", http_status=200, code=code, message="why")
    assert type(error) is error_type
    assert error.provider_code == code
    assert error.message == "Kie createTask: why"


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
