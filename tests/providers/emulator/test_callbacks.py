import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from image2ad.providers.emulator import create_app
from tests.fixtures.emulator import (
    FAST_SETTINGS,
    TEST_API_KEY,
    CallbackSink,
    StartEmulator,
    create_task,
    record_info,
    serve_app_in_thread,
    wait_until,
)

HMAC_KEY = "whsec-test"


def expected_signature(task_id: str, timestamp: str) -> str:
    digest = hmac.new(HMAC_KEY.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def test_success_callback_is_the_signed_record_envelope(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(webhook_hmac_key=HMAC_KEY, image_duration_s=0.1)
    with emu.client() as client:
        task_id = create_task(client, callback_url=callback_sink.url("/kie/cb?job=7"))
        [received] = callback_sink.wait_for(1)
        record = record_info(client, task_id)

    body = received.json
    assert received.path == "/kie/cb"
    assert received.headers["content-type"] == "application/json"
    assert body["code"] == 200
    assert body["msg"] == "Playground task completed successfully."
    data = body["data"]
    assert data["taskId"] == task_id
    assert data["state"] == "success"
    assert json.loads(data["param"])["callBackUrl"] == callback_sink.url("/kie/cb?job=7")
    assert data["resultJson"] == record["resultJson"]
    assert data["completeTime"] == record["completeTime"]
    assert data["failCode"] is None and data["failMsg"] is None
    timestamp = received.headers["x-webhook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    assert received.headers["x-webhook-signature"] == expected_signature(task_id, timestamp)


def test_failure_callback_has_code_501(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(failure_rate=1.0, video_duration_s=0.1)
    with emu.client() as client:
        task_id = create_task(client, callback_url=callback_sink.url())
        [received] = callback_sink.wait_for(1)

    body = received.json
    assert body["code"] == 501
    assert body["msg"] == "Playground task failed."
    assert body["data"]["taskId"] == task_id
    assert body["data"]["state"] == "fail"
    assert body["data"]["failCode"] == "500"
    assert body["data"]["failMsg"] == "Internal server error"
    assert body["data"]["resultJson"] is None
    assert "x-webhook-signature" not in received.headers


def test_forced_outcome_calls_back_at_once(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(image_duration_s=60)
    with emu.client() as client:
        ok_id = create_task(client, callback_url=callback_sink.url("/ok"))
        bad_id = create_task(client, callback_url=callback_sink.url("/bad"))
        emu.state.force_success(ok_id)
        emu.state.force_fail(bad_id, "400", "content policy")
        received = callback_sink.wait_for(2, timeout=2)

    by_path = {r.path: r.json for r in received}
    assert by_path["/ok"]["data"]["state"] == "success"
    assert by_path["/bad"]["data"]["failMsg"] == "content policy"


def test_callbacks_are_redelivered_after_errors(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(callback_attempts=3, image_duration_s=0.05)
    callback_sink.fail_next(500, 503)
    with emu.client() as client:
        task_id = create_task(client, callback_url=callback_sink.url())
        received = callback_sink.wait_for(3)
        wait_until(lambda: len(emu.state.callback_attempts) == 3)

    assert [r.json["data"]["taskId"] for r in received] == [task_id] * 3
    assert [a.status_code for a in emu.state.callback_attempts] == [500, 503, 200]


def test_redelivery_gives_up_after_the_configured_attempts(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(callback_attempts=2, image_duration_s=0.05)
    callback_sink.fail_next(500, 500, 500)
    with emu.client() as client:
        create_task(client, callback_url=callback_sink.url())
        callback_sink.wait_for(2)
        time.sleep(0.2)

    assert len(callback_sink.received) == 2


def test_unreachable_callback_url_is_recorded_as_errors(start_emulator: StartEmulator) -> None:
    emu = start_emulator(callback_attempts=2, image_duration_s=0.05)
    with emu.client() as client:
        create_task(client, callback_url="http://127.0.0.1:9/unreachable")
        wait_until(lambda: len(emu.state.callback_attempts) == 2)

    assert [a.error is not None for a in emu.state.callback_attempts] == [True, True]


def test_drop_and_duplicate_knobs(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(image_duration_s=60)
    with emu.client() as client:
        dropped = create_task(client, callback_url=callback_sink.url("/dropped"))
        doubled = create_task(client, callback_url=callback_sink.url("/doubled"))
        emu.state.drop_callbacks = True
        emu.state.force_success(dropped)
        time.sleep(0.1)
        emu.state.drop_callbacks = False
        emu.state.duplicate_callbacks = 1
        emu.state.force_success(doubled)
        received = callback_sink.wait_for(2)
        time.sleep(0.1)

    assert [r.path for r in callback_sink.received] == ["/doubled", "/doubled"]
    assert received[0].body == received[1].body
    assert emu.state.dropped_callbacks == [dropped]


def test_no_callbacks_when_disabled(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(callback_enabled=False)
    with emu.client() as client:
        task_id = create_task(client, callback_url=callback_sink.url())
        emu.state.force_success(task_id)
        time.sleep(0.15)

    assert callback_sink.received == []


def test_mounted_under_a_prefix_builds_urls_and_calls_back(callback_sink: CallbackSink) -> None:
    holder: dict[str, Any] = {}

    def build(base_url: str) -> Starlette:
        public_url = base_url + "/_emulator"
        emulator_app = create_app(
            dataclasses.replace(FAST_SETTINGS, public_url=public_url, image_duration_s=0.1)
        )
        state = emulator_app.state.emulator
        holder.update(state=state, public_url=public_url)

        # Starlette does not run a mounted app's lifespan: the host app closes the emulator.
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            await state.aclose()

        return Starlette(routes=[Mount("/_emulator", emulator_app)], lifespan=lifespan)

    with (
        serve_app_in_thread(build) as base_url,
        httpx.Client(
            base_url=holder["public_url"], headers={"Authorization": f"Bearer {TEST_API_KEY}"}
        ) as client,
    ):
        task_id = create_task(client, callback_url=callback_sink.url())
        [received] = callback_sink.wait_for(1)
        url = json.loads(record_info(client, task_id)["resultJson"])["resultUrls"][0]
        image = httpx.get(url)

    assert received.json["data"]["taskId"] == task_id
    assert url.startswith(base_url + "/_emulator/files/")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"


def test_sora_posts_signed_progress_callbacks_while_generating(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(webhook_hmac_key=HMAC_KEY, video_duration_s=0.6, paused_models=frozenset())
    callback_sink.fail_next(500)  # a lost progress callback is not sent again
    with emu.client() as client:
        task_id = create_task(
            client,
            "sora-2-text-to-video",
            callback_url=callback_sink.url("/done"),
            progress_callback_url=callback_sink.url("/progress"),
        )
        received = callback_sink.wait_for(4)
        wait_until(lambda: len(emu.state.callback_attempts) == 4)

    assert [r.path for r in received] == ["/progress"] * 3 + ["/done"]
    progress = [r.json for r in received[:3]]
    assert [p["data"]["progress"] for p in progress] == [25, 50, 75]
    for body, callback in zip(progress, received[:3], strict=True):
        assert (body["code"], body["msg"]) == (200, "generating")
        assert body["data"]["taskId"] == task_id
        assert body["data"]["state"] == "generating"
        assert body["data"]["resultJson"] is None
        timestamp = callback.headers["x-webhook-timestamp"]
        assert callback.headers["x-webhook-signature"] == expected_signature(task_id, timestamp)
    attempts = [(a.kind, a.status_code) for a in emu.state.callback_attempts]
    assert attempts == [
        ("progress", 500),
        ("progress", 200),
        ("progress", 200),
        ("completion", 200),
    ]


def test_no_progress_callbacks_after_a_task_ends_early(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(video_duration_s=0.5, paused_models=frozenset())
    with emu.client() as client:
        task_id = create_task(
            client,
            "sora-2-text-to-video",
            callback_url=callback_sink.url("/done"),
            progress_callback_url=callback_sink.url("/progress"),
        )
        emu.state.force_success(task_id)
        callback_sink.wait_for(1)
        time.sleep(0.45)  # past the last progress point the task would have reached

    assert [r.path for r in callback_sink.received] == ["/done"]
