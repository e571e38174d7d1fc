import json
import time
from dataclasses import replace

import httpx

from image2ad.providers.emulator import EmulatorState
from image2ad.providers.emulator.catalog import MODELS
from tests.fixtures.emulator import (
    FAST_SETTINGS,
    RunningEmulator,
    StartEmulator,
    create_task,
    record_info,
    wait_terminal,
)
from tests.providers.emulator.inputs import create

STATE_ORDER = ["waiting", "queuing", "generating", "success"]


def observe_states(client: httpx.Client, task_id: str) -> list[dict]:
    records = []
    while not records or records[-1]["state"] not in ("success", "fail"):
        records.append(record_info(client, task_id))
        time.sleep(0.02)
    return records


def distinct(values: list) -> list:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def test_missing_task_id_is_code_400(kie: httpx.Client) -> None:
    reply = kie.get("/api/v1/jobs/recordInfo").json()

    assert reply["code"] == 400
    assert "taskId" in reply["msg"]


def test_unknown_task_is_422_record_info_is_null(kie: httpx.Client) -> None:
    response = kie.get("/api/v1/jobs/recordInfo", params={"taskId": "0" * 32})

    assert response.status_code == 200
    assert response.json() == {"code": 422, "msg": "recordInfo is null", "data": None}


def test_image_task_walks_every_state_with_kie_field_types(start_emulator: StartEmulator) -> None:
    emu = start_emulator(image_duration_s=0.8, callback_enabled=False)
    with emu.client() as client:
        body = {
            "model": "google/nano-banana",
            "callBackUrl": "https://example.com/cb?job=1",
            "input": {"prompt": "a lighthouse", "aspect_ratio": "16:9", "output_format": "png"},
        }
        before_ms = time.time() * 1000
        task_id = client.post("/api/v1/jobs/createTask", json=body).json()["data"]["taskId"]
        records = observe_states(client, task_id)

    assert distinct([r["state"] for r in records]) == STATE_ORDER
    first, final = records[0], records[-1]
    assert first["taskId"] == task_id
    assert first["model"] == "google/nano-banana"
    assert json.loads(first["param"]) == body
    assert first["resultJson"] == ""
    assert first["response"] is None
    assert first["completeTime"] is None
    assert first["costTime"] is None
    assert first["progress"] is None
    assert first["successFlag"] == 0
    assert first["creditsConsumed"] == 0
    assert before_ms - 1000 <= first["createTime"] <= time.time() * 1000
    assert isinstance(final["resultJson"], str)
    result = json.loads(final["resultJson"])
    assert set(result) == {"resultUrls"}
    assert len(result["resultUrls"]) == 1
    assert result["resultUrls"][0].startswith(emu.base_url + "/files/")
    assert final["response"] == result
    assert final["failCode"] is None and final["failMsg"] is None
    assert 750 <= final["completeTime"] - final["createTime"] <= 900
    assert final["costTime"] == 0  # seconds, like Kie's 59 for a 59,458 ms run
    assert final["updateTime"] == final["completeTime"]
    assert final["creditsConsumed"] == 4.0
    assert isinstance(final["creditsConsumed"], float)
    assert final["successFlag"] == 1
    assert final["progress"] is None
    update_times = [r["updateTime"] for r in records]
    assert update_times == sorted(update_times)


def test_cost_time_is_whole_seconds(start_emulator: StartEmulator) -> None:
    emu = start_emulator(image_duration_s=60)
    with emu.client() as client:
        task_id = create_task(client)
        task = emu.state.tasks[task_id]
        task.created_at -= 59.458  # as in Kie's example
        emu.state.force_success(task_id)
        record = record_info(client, task_id)

    assert record["costTime"] == 59


def test_video_task_charges_per_second_and_fills_new_fields(
    start_emulator: StartEmulator,
) -> None:
    emu = start_emulator(video_duration_s=0.3)
    with emu.client() as client:
        task_id = create(client, "bytedance/seedance-2-mini", duration=10)
        running = record_info(client, task_id)
        final = wait_terminal(client, task_id)

    assert running["creditsConsumed"] == 0
    assert (running["successFlag"], running["progress"]) == (0, None)
    assert final["state"] == "success"
    assert final["creditsConsumed"] == 82.0  # 8.2 cr/s x 10 s
    assert final["successFlag"] == 1
    assert final["progress"] is None
    assert final["response"] == json.loads(final["resultJson"])
    assert set(final["response"]) == {"resultUrls"}
    assert final["response"]["resultUrls"][0].endswith(".mp4")


def test_tasks_are_visible_only_to_their_own_key(start_emulator: StartEmulator) -> None:
    emu = start_emulator(api_key=None)
    with emu.client(api_key="owner") as owner, emu.client(api_key="stranger") as stranger:
        task_id = create_task(owner)
        mine = owner.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()
        theirs = stranger.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()

    assert mine["code"] == 200
    assert theirs == {"code": 422, "msg": "recordInfo is null", "data": None}


def test_sora_task_reports_progress_and_watermark_urls(start_emulator: StartEmulator) -> None:
    emu = start_emulator(video_duration_s=0.6, paused_models=frozenset())
    with emu.client() as client:
        task_id = create_task(client, "sora-2-text-to-video")
        records = observe_states(client, task_id)

    progress = [r["progress"] for r in records]
    assert progress == sorted(progress)
    assert progress[0] == 0
    assert progress[-1] == 100
    assert any(0 < p < 100 for p in progress)
    final = records[-1]
    assert final["state"] == "success"
    assert final["creditsConsumed"] == 30
    result = json.loads(final["resultJson"])
    assert len(result["resultUrls"]) == 1
    assert len(result["resultWaterMarkUrls"]) == 1
    assert result["resultUrls"] != result["resultWaterMarkUrls"]


def test_failure_injection_ends_in_fail_and_refunds(start_emulator: StartEmulator) -> None:
    emu = start_emulator(failure_rate=1.0, image_duration_s=0.1)
    with emu.client() as client:
        task_id = create_task(client)
        record = wait_terminal(client, task_id)
        balance = client.get("/api/v1/chat/credit").json()["data"]

    assert record["state"] == "fail"
    assert record["failCode"] == "500"
    assert record["failMsg"] == "Internal server error"
    assert record["resultJson"] == ""
    assert record["response"] is None
    assert record["creditsConsumed"] == 0
    assert record["successFlag"] == 3
    assert balance == 100_000


def test_seeded_failure_injection_is_deterministic() -> None:
    settings = replace(FAST_SETTINGS, failure_rate=0.5, seed=1234)
    spec = MODELS["google/nano-banana"]
    outcomes = []
    for _ in range(2):
        state = EmulatorState(settings)
        tasks = [state.create_task(spec, {"model": spec.name}, "acct") for _ in range(12)]
        outcomes.append([t.outcome.value for t in tasks])

    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {"success", "fail"}


def test_forced_outcomes_apply_immediately(start_emulator: StartEmulator) -> None:
    emu = start_emulator(image_duration_s=60)
    with emu.client() as client:
        ok_id, bad_id, admin_id = (create_task(client) for _ in range(3))
        emu.state.force_success(ok_id)
        emu.state.force_fail(bad_id, "422", "Invalid prompt: prohibited content")
        with emu.admin_client() as admin_client:
            admin = admin_client.post(
                f"/_admin/tasks/{admin_id}/fail", json={"failCode": "400", "failMsg": "nope"}
            ).json()
            again = admin_client.post(f"/_admin/tasks/{admin_id}/succeed").json()

        ok, bad = record_info(client, ok_id), record_info(client, bad_id)

    assert ok["state"] == "success"
    assert bad["state"] == "fail"
    assert (bad["failCode"], bad["failMsg"]) == ("422", "Invalid prompt: prohibited content")
    assert admin["data"]["state"] == "fail"
    assert admin["data"]["failCode"] == "400"
    assert again["code"] == 409


def test_list_tasks_admin_route(kie: httpx.Client, emulator: RunningEmulator) -> None:
    task_id = create_task(kie)

    with emulator.admin_client() as admin:
        listed = admin.get("/_admin/tasks").json()["data"]

    assert [t["taskId"] for t in listed] == [task_id]
    assert emulator.state.list_tasks()[0]["taskId"] == task_id
