import httpx
import pytest

from tests.fixtures.emulator import DEFAULT_INPUTS, RunningEmulator, StartEmulator

KIE_CALLS = [
    ("POST", "/api/v1/jobs/createTask", {"model": "google/nano-banana", "input": {"prompt": "x"}}),
    ("GET", "/api/v1/jobs/recordInfo?taskId=abc", None),
    ("GET", "/api/v1/chat/credit", None),
    ("POST", "/api/v1/common/download-url", {"url": "https://example.com/a.png"}),
]
BAD_HEADERS = [
    {},
    {"Authorization": "Bearer wrong-key"},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dGVzdC1raWUta2V5"},
]


@pytest.mark.parametrize(("method", "path", "body"), KIE_CALLS)
@pytest.mark.parametrize("headers", BAD_HEADERS)
def test_bad_auth_is_http_200_with_body_code_401(
    shared_emulator: RunningEmulator,
    method: str,
    path: str,
    body: object,
    headers: dict[str, str],
) -> None:
    url = shared_emulator.base_url + path

    response = httpx.request(method, url, json=body, headers=headers)

    assert response.status_code == 200
    assert response.json() == {
        "code": 401,
        "msg": "You do not have access permissions",
        "data": None,
    }
    assert shared_emulator.state.tasks == {}


def test_upload_host_answers_bad_auth_in_its_own_shape(shared_emulator: RunningEmulator) -> None:
    response = httpx.post(
        shared_emulator.base_url + "/api/file-base64-upload",
        json={"base64Data": "aGk=", "uploadPath": "x"},
        headers={"Authorization": "Bearer nope"},
    )

    assert response.status_code == 200
    assert response.json()["success"] is False
    assert response.json()["code"] == 401
    assert len(shared_emulator.state.uploads) == 0


def test_http_status_for_bad_auth_can_be_switched_to_401(start_emulator: StartEmulator) -> None:
    emu = start_emulator(unauthenticated_http_status=401)

    response = httpx.get(emu.base_url + "/api/v1/chat/credit")

    assert response.status_code == 401
    assert response.json()["code"] == 401


def test_any_key_is_accepted_when_no_key_is_configured(start_emulator: StartEmulator) -> None:
    emu = start_emulator(api_key=None)
    body = {"model": "google/nano-banana", "input": DEFAULT_INPUTS["google/nano-banana"]}

    response = httpx.post(
        emu.base_url + "/api/v1/jobs/createTask",
        json=body,
        headers={"Authorization": "Bearer anything-at-all"},
    )

    assert response.json()["code"] == 200
