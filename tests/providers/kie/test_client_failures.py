"""KieClient against failures the emulator cannot produce (scripted loopback server)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from image2ad.providers import errors
from image2ad.providers.base import TaskState
from image2ad.providers.kie import KieClient

from .conftest import API_KEY, MakeClient, StartServer
from .scripted_server import Reply, Request, closed_port, envelope, ok

RECORD = {
    "taskId": "t1",
    "model": "google/nano-banana",
    "state": "generating",
    "param": "",
    "resultJson": "",
    "failCode": None,
    "failMsg": None,
}
CREATED = ok({"taskId": "t1"})
GATEWAY_HTML = Reply(status=502, body="<html>Bad Gateway</html>", content_type="text/html")


async def create(make_client: MakeClient, url: str, **overrides: object) -> str:
    client = make_client(url, **overrides)
    return await client.create_task("google/nano-banana", {"prompt": "a cat"})


# createTask: never re-sent once it may have reached Kie


@pytest.mark.parametrize(
    "action",
    [
        "stall",
        "reset",
        "hangup",
        GATEWAY_HTML,
        Reply(status=500, body=b""),
        Reply(status=200, body="<html>ok</html>", content_type="text/html"),
        ok({}),
        ok({"taskId": ""}),
        Reply(status=503, body={"code": 200, "msg": "success", "data": {"taskId": "t1"}}),
    ],
    ids=lambda a: a if isinstance(a, str) else f"{a.status}-{str(a.body)[:30]}",
)
async def test_create_task_uncertain_outcomes_are_sent_once(
    scripted: StartServer, make_client: MakeClient, action: object
) -> None:
    server = await scripted([action, CREATED])  # type: ignore[list-item]
    with pytest.raises(errors.ProviderSubmitUncertain):
        await create(make_client, server.url, timeout_s=0.3)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("message", "error_type"),
    [
        ("Internal error", errors.ProviderServerError),
        ("This field is required", errors.ProviderValidationError),
        ("This interface is temporarily paused.", errors.ProviderModelUnavailable),
    ],
)
async def test_create_task_body_500_is_a_refusal_not_uncertain(
    scripted: StartServer,
    make_client: MakeClient,
    message: str,
    error_type: type[errors.ProviderError],
) -> None:
    server = await scripted([envelope(500, message), CREATED])
    with pytest.raises(error_type) as caught:
        await create(make_client, server.url)
    assert type(caught.value) is error_type
    assert message in caught.value.message
    assert caught.value.provider_code == 500
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        envelope(429, "Rate limit exceeded", status=429),
        envelope(429, "Rate limit exceeded"),
        Reply(status=429, body=b""),
    ],
)
async def test_create_task_retries_explicit_refusals(
    scripted: StartServer, make_client: MakeClient, refusal: Reply
) -> None:
    server = await scripted([refusal, refusal, CREATED])
    assert await create(make_client, server.url) == "t1"
    assert len(server.requests) == 3


async def test_create_task_gives_up_with_the_last_refusal(
    scripted: StartServer, make_client: MakeClient
) -> None:
    server = await scripted([envelope(429, "Rate limit exceeded", status=429)])
    with pytest.raises(errors.ProviderRateLimited, match="Rate limit exceeded"):
        await create(make_client, server.url, max_retries=3)
    assert len(server.requests) == 4


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (envelope(401, "You do not have access permissions"), errors.ProviderAuthError),
        (envelope(402, "Credits insufficient"), errors.ProviderOutOfCredits),
        (envelope(422, "input.prompt is required"), errors.ProviderValidationError),
        (envelope(433, "Sub-key usage exceeds its limit"), errors.ProviderKeyLimit),
        (envelope(501, "Generation failed"), errors.ProviderGenerationFailed),
        # Refusals of the model itself: no retry helps for a while (kie-models.md §2).
        (envelope(455, "Service unavailable"), errors.ProviderModelUnavailable),
        (envelope(505, "Feature disabled"), errors.ProviderModelUnavailable),
        (envelope(500, "This interface is temporarily paused."), errors.ProviderModelUnavailable),
        (
            envelope(422, "The model name you specified is not supported"),
            errors.ProviderModelUnavailable,
        ),
    ],
)
async def test_create_task_rejections_are_not_retried(
    scripted: StartServer,
    make_client: MakeClient,
    reply: Reply,
    error_type: type[errors.ProviderError],
) -> None:
    server = await scripted([reply, CREATED])
    with pytest.raises(error_type) as caught:
        await create(make_client, server.url)
    assert reply.body["msg"] in caught.value.message
    assert len(server.requests) == 1


async def test_create_task_retries_connection_refused_then_gives_up(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="image2ad.providers.kie")
    with pytest.raises(errors.ProviderNetworkError) as caught:
        await create(make_client, f"http://127.0.0.1:{closed_port()}", max_retries=2)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    attempts = [r for r in caplog.records if "ConnectError after" in r.getMessage()]
    assert len(attempts) == 3


@pytest.mark.parametrize("first", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_create_task_resends_after_a_failure_before_sending(
    make_client: MakeClient, first: type[httpx.TransportError]
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise first("no route", request=request)
        return httpx.Response(200, json=CREATED.body)

    client = make_client("http://kie.test", transport=httpx.MockTransport(handler))
    assert await client.create_task("google/nano-banana", {"prompt": "p"}) == "t1"
    assert len(seen) == 2


async def test_create_task_wire_format(scripted: StartServer, make_client: MakeClient) -> None:
    server = await scripted([CREATED])
    client = make_client(server.url + "/")
    task_id = await client.create_task(
        "sora-2-text-to-video",
        {"prompt": "p", "n_frames": "10"},
        callback_url="https://me.example/cb?job=1",
        progress_callback_url="https://me.example/progress",
    )
    assert task_id == "t1"
    (request,) = server.requests
    assert (request.method, request.target) == ("POST", "/api/v1/jobs/createTask")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "model": "sora-2-text-to-video",
        "input": {"prompt": "p", "n_frames": "10"},
        "callBackUrl": "https://me.example/cb?job=1",
        "progressCallBackUrl": "https://me.example/progress",
    }


async def test_no_retries_when_max_retries_is_zero(
    scripted: StartServer, make_client: MakeClient
) -> None:
    # A refusal create_task re-sends otherwise (test_create_task_retries_explicit_refusals).
    server = await scripted([envelope(429, "Rate limit exceeded"), CREATED])
    with pytest.raises(errors.ProviderRateLimited):
        await create(make_client, server.url, max_retries=0)
    assert len(server.requests) == 1


async def test_backoff_waits_between_attempts(
    scripted: StartServer, make_client: MakeClient
) -> None:
    server = await scripted([envelope(455, "maintenance")])
    client = make_client(server.url, max_retries=3, backoff_base_s=0.05, backoff_max_s=1.0)
    started = time.monotonic()
    with pytest.raises(errors.ProviderUnavailable):
        await client.credit()
    # 0.05 + 0.1 + 0.2 before jitter
    assert time.monotonic() - started >= 0.35
    assert len(server.requests) == 4


# Safe calls: retried on network errors, outages and rate limits


@pytest.mark.parametrize(
    "fault",
    [
        "stall",
        "reset",
        "hangup",
        GATEWAY_HTML,
        Reply(status=200, body=b"{truncated"),
        envelope(500, "Internal error"),
        envelope(429, "Rate limit exceeded", status=429),
        envelope(455, "maintenance"),
        ok({"taskId": "t1", "state": "exploded"}),
    ],
    ids=lambda a: a if isinstance(a, str) else f"{a.status}-{str(a.body)[:30]}",
)
async def test_record_info_retries_transient_failures(
    scripted: StartServer, make_client: MakeClient, fault: object
) -> None:
    server = await scripted([fault, fault, ok(RECORD)])  # type: ignore[list-item]
    record = await make_client(server.url, timeout_s=0.3).record_info("t1")
    assert record.state is TaskState.GENERATING
    assert len(server.requests) == 3
    assert server.requests[-1].target == "/api/v1/jobs/recordInfo?taskId=t1"


async def test_record_info_gives_up_after_max_retries(
    scripted: StartServer, make_client: MakeClient
) -> None:
    server = await scripted(["stall"])
    with pytest.raises(errors.ProviderNetworkError) as caught:
        await make_client(server.url, timeout_s=0.2, max_retries=2).record_info("t1")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (envelope(422, "recordInfo is null"), errors.ProviderTaskNotFound),
        (envelope(404, "Task not found", status=404), errors.ProviderTaskNotFound),
        (envelope(401, "Unauthorized"), errors.ProviderAuthError),
        (envelope(400, "taskId parameter is required"), errors.ProviderValidationError),
    ],
)
async def test_record_info_definite_answers_are_not_retried(
    scripted: StartServer,
    make_client: MakeClient,
    reply: Reply,
    error_type: type[errors.ProviderError],
) -> None:
    server = await scripted([reply, ok(RECORD)])
    with pytest.raises(error_type, match=reply.body["msg"]):
        await make_client(server.url).record_info("t1")
    assert len(server.requests) == 1


async def test_record_info_for_another_task_is_refused(
    scripted: StartServer, make_client: MakeClient
) -> None:
    server = await scripted([ok(RECORD)])
    with pytest.raises(errors.ProviderServerError, match="asked for task 'other'"):
        await make_client(server.url, max_retries=0).record_info("other")


async def test_credit_and_download_url(scripted: StartServer, make_client: MakeClient) -> None:
    server = await scripted([envelope(500, "busy"), ok(12.5), ok("https://tmp.example/x?sig=1")])
    client = make_client(server.url)
    assert await client.credit() == 12.5
    assert await client.download_url("https://tempfile.aiquickdraw.com/p/x.png") == (
        "https://tmp.example/x?sig=1"
    )
    credit_1, credit_2, download = server.requests
    assert credit_1.target == credit_2.target == "/api/v1/chat/credit"
    assert (download.method, download.target) == ("POST", "/api/v1/common/download-url")
    assert json.loads(download.body) == {"url": "https://tempfile.aiquickdraw.com/p/x.png"}


# Uploads

UPLOADED = ok({"fileName": "a.png", "fileUrl": "https://files.example/u/a.png", "fileSize": 3})


async def chunks() -> AsyncIterator[bytes]:
    yield b"\x89P"
    yield b"NG"


def without_boundary(request: Request) -> bytes:
    boundary = request.headers["content-type"].split("boundary=", 1)[1]
    return request.body.replace(boundary.encode(), b"BOUNDARY")


@pytest.mark.parametrize(
    "make_source",
    [lambda: b"\x89PNG", lambda: io.BytesIO(b"\x89PNG"), chunks],
    ids=["bytes", "file", "aiter"],
)
async def test_upload_resends_the_same_bytes_after_a_reset(
    scripted: StartServer, make_client: MakeClient, make_source: Callable[[], object]
) -> None:
    server = await scripted(["reset", UPLOADED])
    client = make_client("http://unused.invalid", upload_base_url=server.url)
    uploaded = await client.upload_file(
        make_source(),  # type: ignore[arg-type]
        file_name="a.png",
        upload_path="/users/7/",
        content_type="image/png",
    )
    assert uploaded.download_url == "https://files.example/u/a.png"
    assert uploaded.file_size == 3
    first, second = server.requests
    assert without_boundary(first) == without_boundary(second)
    assert second.target == "/api/file-stream-upload"
    assert second.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="uploadPath"\r\n\r\nusers/7\r\n' in second.body
    assert b'name="fileName"\r\n\r\na.png\r\n' in second.body
    assert b'name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG' in second.body


async def test_upload_error_keeps_the_message(
    scripted: StartServer, make_client: MakeClient
) -> None:
    reply = Reply(
        status=401,
        body={"success": False, "code": 401, "msg": "Authentication failed: Invalid API Key"},
    )
    server = await scripted([reply])
    client = make_client(server.url)
    with pytest.raises(errors.ProviderAuthError, match="Invalid API Key"):
        await client.upload_file(b"x", file_name="a.png", upload_path="p", content_type="image/png")


# Secrets


async def test_api_key_never_reaches_logs_errors_or_repr(
    scripted: StartServer, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await scripted(
        [envelope(429, "slow down", status=429), "reset", envelope(401, "Unauthorized")]
    )
    client = make_client(server.url)
    with pytest.raises(errors.ProviderError) as caught:
        await client.credit()
    assert len(server.requests) == 3
    assert caplog.records, "attempts are logged at debug level"
    texts = [caplog.text, repr(client), str(caught.value), repr(caught.value.__cause__)]
    assert all(API_KEY not in text for text in texts)


def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="api_key"):
        KieClient("  ")
    with pytest.raises(ValueError, match="max_retries"):
        KieClient("key", max_retries=-1)
