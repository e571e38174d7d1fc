from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from image2ad.providers.base import TaskState
from image2ad.providers.kie.schemas import (
    CallbackBody,
    CreateTaskRequest,
    CreateTaskResponse,
    CreditResponse,
    DownloadUrlResponse,
    EnvelopeHead,
    RecordData,
    RecordInfoResponse,
    UploadResponse,
)

PARAM = {"model": "google/nano-banana", "callBackUrl": "https://cb", "input": {"prompt": "a cat"}}


def record(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "taskId": "task_google_1765178608584",
        "model": "google/nano-banana",
        "state": "success",
        "param": json.dumps(PARAM),
        "resultJson": json.dumps({"resultUrls": ["https://tempfile.aiquickdraw.com/p/x.png"]}),
        "failCode": "",
        "failMsg": "",
        "costTime": 15000,
        "completeTime": 1698765432000,
        "createTime": 1698765400000,
        "updateTime": 1698765432000,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"code": 200, "msg": "success"}, "success"),
        ({"code": 422, "message": "prompt is required"}, "prompt is required"),
        ({"code": 422, "msg": "", "message": "fallback"}, "fallback"),
        ({"code": "401"}, ""),
    ],
)
def test_envelope_reads_msg_then_message(body: dict[str, Any], text: str) -> None:
    head = EnvelopeHead.model_validate(body)
    assert head.text == text
    assert head.code == int(body["code"])


def test_create_task_request_uses_kie_field_names_and_omits_unset() -> None:
    request = CreateTaskRequest(
        model="sora-2-text-to-video",
        input={"prompt": "p", "n_frames": "10"},
        call_back_url="https://me/cb",
        progress_call_back_url=None,
    )
    assert request.to_wire() == {
        "model": "sora-2-text-to-video",
        "input": {"prompt": "p", "n_frames": "10"},
        "callBackUrl": "https://me/cb",
    }


def test_create_task_response_needs_a_task_id() -> None:
    body = {"code": 200, "msg": "success", "data": {"taskId": "task_1"}}
    assert CreateTaskResponse.model_validate(body).data.task_id == "task_1"
    for data in (None, {}, {"taskId": ""}):
        with pytest.raises(ValidationError):
            CreateTaskResponse.model_validate({"code": 200, "data": data})


def test_record_with_json_strings_becomes_task_record() -> None:
    envelope = RecordInfoResponse.model_validate({"code": 200, "msg": "success", "data": record()})
    task = envelope.data.to_task_record()
    assert task.task_id == "task_google_1765178608584"
    assert task.state is TaskState.SUCCESS
    assert task.result_urls == ["https://tempfile.aiquickdraw.com/p/x.png"]
    assert task.param == PARAM
    assert task.fail_code is None and task.fail_message is None
    assert task.cost_time == 15000
    assert task.create_time_ms == 1698765400000
    assert task.complete_time_ms == 1698765432000


@pytest.mark.parametrize("value", [None, "", "  "])
def test_empty_result_json_and_param_are_none(value: Any) -> None:
    data = RecordData.model_validate(record(state="fail", resultJson=value, param=value))
    assert data.result_json is None and data.param is None
    assert data.to_task_record().result_urls == []


def test_already_parsed_fields_are_accepted() -> None:
    sora = {
        "resultUrls": ["https://cdn/clean.mp4"],
        "resultWaterMarkUrls": ["https://cdn/wm.mp4"],
    }
    data = RecordData.model_validate(record(param=PARAM, resultJson=sora, progress=100))
    assert data.param == PARAM
    assert data.result_json is not None
    assert data.result_json.result_water_mark_urls == ["https://cdn/wm.mp4"]
    task = data.to_task_record()
    assert task.result_urls == ["https://cdn/clean.mp4"]
    assert task.progress == 100


def test_nested_input_string_in_param_is_decoded() -> None:
    param = {"model": "m", "input": json.dumps({"prompt": "x"})}
    data = RecordData.model_validate(record(param=json.dumps(param)))
    assert data.param == {"model": "m", "input": {"prompt": "x"}}


def test_garbled_param_does_not_hide_the_state() -> None:
    data = RecordData.model_validate(record(param="{not json"))
    assert data.param is None
    assert data.state is TaskState.SUCCESS


def test_garbled_result_json_is_rejected() -> None:
    with pytest.raises(ValidationError):
        RecordData.model_validate(record(resultJson="{not json"))
    with pytest.raises(ValidationError):
        RecordData.model_validate(record(resultJson="[1, 2]"))


@pytest.mark.parametrize(
    ("fail_code", "expected"),
    [("422", "422"), (500, "500"), (None, None), ("", None), (501.0, "501.0")],
)
def test_fail_code_string_number_or_null(fail_code: Any, expected: str | None) -> None:
    data = RecordData.model_validate(
        record(state="fail", resultJson=None, failCode=fail_code, failMsg="Invalid prompt")
    )
    task = data.to_task_record()
    assert task.state is TaskState.FAIL
    assert task.fail_code == expected
    assert task.fail_message == "Invalid prompt"


@pytest.mark.parametrize("state", ["waiting", "queuing", "generating", "SUCCESS", " fail "])
def test_states(state: str) -> None:
    assert RecordData.model_validate(record(state=state)).state == state.strip().lower()


def test_unknown_state_is_rejected() -> None:
    with pytest.raises(ValidationError):
        RecordData.model_validate(record(state="completed"))


def test_credits_consumed_under_either_name() -> None:
    assert RecordData.model_validate(record(creditsConsumed=4)).credits_consumed == 4.0
    assert RecordData.model_validate(record(consumeCredits=30)).credits_consumed == 30.0


def test_unknown_fields_are_ignored() -> None:
    data = RecordData.model_validate(record(somethingNew={"x": 1}))
    assert data.task_id == "task_google_1765178608584"


UPLOAD = {
    "success": True,
    "fileName": "1771365803519-kbo99wcehlo.png",
    "filePath": "kieai/608626/elements/1771365803519-kbo99wcehlo.png",
    "downloadUrl": "https://tempfile.redpandaai.co/kieai/608626/elements/1771365803519-kbo99wcehlo.png",
    "fileSize": 1165742,
    "mimeType": "image/png",
}


def test_upload_download_url() -> None:
    body = {"success": True, "code": 200, "msg": "File uploaded successfully", "data": UPLOAD}
    uploaded = UploadResponse.model_validate(body).data.to_uploaded_file(
        fallback_name="x", fallback_size=1
    )
    assert uploaded.download_url == UPLOAD["downloadUrl"]
    assert uploaded.file_name == UPLOAD["fileName"]
    assert uploaded.file_size == 1165742
    assert uploaded.mime_type == "image/png"


@pytest.mark.parametrize(
    ("data", "url"),
    [
        ({"fileUrl": "https://h/f.png", "filePath": "kieai/1/f.png"}, "https://h/f.png"),
        ({"filePath": "https://h/abs.png"}, "https://h/abs.png"),
        ({"downloadUrl": "", "fileUrl": "https://h/f.png"}, "https://h/f.png"),
    ],
)
def test_upload_url_fallbacks(data: dict[str, Any], url: str) -> None:
    parsed = UploadResponse.model_validate({"code": 200, "data": data}).data
    uploaded = parsed.to_uploaded_file(fallback_name="mine.png", fallback_size=7)
    assert uploaded.download_url == url
    assert (uploaded.file_name, uploaded.file_size) == ("mine.png", 7)


def test_upload_without_an_absolute_url_is_rejected() -> None:
    with pytest.raises(ValidationError):
        UploadResponse.model_validate({"code": 200, "data": {"filePath": "kieai/1/f.png"}})


@pytest.mark.parametrize("value", [100, 12.5])
def test_credit_int_or_float(value: float) -> None:
    assert (
        CreditResponse.model_validate({"code": 200, "msg": "success", "data": value}).data == value
    )


def test_download_url_is_a_non_empty_string() -> None:
    body = {"code": 200, "msg": "success", "data": "https://tmp/x.png?sig=1"}
    assert DownloadUrlResponse.model_validate(body).data == "https://tmp/x.png?sig=1"
    with pytest.raises(ValidationError):
        DownloadUrlResponse.model_validate({"code": 200, "data": ""})


def test_callback_body_success_and_failure() -> None:
    success = CallbackBody.model_validate(
        {"code": 200, "msg": "Playground task completed successfully.", "data": record()}
    )
    assert success.data is not None and success.data.state is TaskState.SUCCESS
    failure = CallbackBody.model_validate(
        {
            "code": 501,
            "msg": "Playground task failed.",
            "data": record(
                state="fail", resultJson=None, failCode="500", failMsg="Internal server error"
            ),
        }
    )
    assert failure.code == 501
    assert failure.data is not None
    assert failure.data.to_task_record().fail_message == "Internal server error"


def test_callback_body_with_top_level_task_id() -> None:
    body = CallbackBody.model_validate(
        {"taskId": "t1", "code": 200, "msg": "Success", "data": None}
    )
    assert body.task_id == "t1"
    assert body.data is None


def test_fractional_numbers_are_rounded() -> None:
    data = RecordData.model_validate(record(progress=45.6, costTime=8.2))
    assert (data.progress, data.cost_time) == (46, 8)
