"""Issue 11 finding 1: the built-in emulator (mounted at /_emulator when KIE_API_KEY is unset)
answers only this process's own Kie client, and the standalone one steers only by a given key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from image2ad.runtime import Runtime
from tests.fixtures.emulator import StartEmulator, run_callback_sink
from tests.fixtures.hostile import report
from tests.fixtures.live_app import LiveApp
from tests.fixtures.processes import ServerProcess, free_port

PUBLISHED_KEY = "emulator-key"  # the constant the emulator used to accept
ADMIN_ROUTES = [
    ("GET", "/_emulator/_admin/tasks"),
    ("GET", "/_emulator/_admin/knobs"),
    ("POST", "/_emulator/_admin/knobs"),
    ("POST", "/_emulator/_admin/tasks/some-task/fail"),
    ("POST", "/_emulator/_admin/tasks/some-task/succeed"),
]
IMAGE = {"model": "google/nano-banana", "input": {"prompt": "a red bicycle"}}
BODY = {"type": "text-to-image", "prompt": "Gold watch on black velvet", "aspect_ratio": "4:5"}
SRC = Path(__file__).resolve().parents[2] / "src" / "image2ad"


def runtime_of(live_app: LiveApp) -> Runtime:
    runtime: Runtime = live_app.app.state.runtime
    return runtime


def test_the_builtin_emulator_has_no_admin_surface(live_app: LiveApp) -> None:
    own_key = runtime_of(live_app).kie_api_key
    answers = {}
    with live_app.client() as client:
        for key in (PUBLISHED_KEY, own_key):
            for method, path in ADMIN_ROUTES:
                reply = client.request(
                    method, path, json={}, headers={"Authorization": f"Bearer {key}"}
                )
                answers[(key == own_key, method, path)] = reply.status_code
    observed = sorted(set(answers.values()))
    assert report(
        "1 emulator admin",
        "test_the_builtin_emulator_has_no_admin_surface",
        expected="404 on every /_emulator/_admin route, with any key",
        observed=f"statuses {observed}",
        passed=observed == [404],
    ), answers


def test_the_builtin_emulator_key_is_made_per_start(live_app: LiveApp) -> None:
    own_key = runtime_of(live_app).kie_api_key
    with live_app.client() as client:
        reply = client.get(
            "/_emulator/api/v1/jobs/recordInfo",
            params={"taskId": "x"},
            headers={"Authorization": f"Bearer {PUBLISHED_KEY}"},
        ).json()
    constants = [p for p in SRC.rglob("*.py") if PUBLISHED_KEY in p.read_text(encoding="utf-8")]
    passed = reply["code"] == 401 and own_key != PUBLISHED_KEY and len(own_key) >= 32
    assert report(
        "1 emulator key",
        "test_the_builtin_emulator_key_is_made_per_start",
        expected="the published key gets code 401; the real key is random, in no source file",
        observed=f"code {reply['code']}; constants in {[p.name for p in constants]}",
        passed=passed and not constants,
    ), (reply, constants)


def test_the_builtin_emulator_calls_back_only_its_own_app(live_app: LiveApp) -> None:
    headers = {"Authorization": f"Bearer {runtime_of(live_app).kie_api_key}"}
    before = len(live_app.emulator.tasks)
    with run_callback_sink() as sink, live_app.client() as client:
        codes = [
            client.post(
                "/_emulator/api/v1/jobs/createTask",
                json={**IMAGE, field: sink.url("/steal")},
                headers=headers,
            ).json()["code"]
            for field in ("callBackUrl", "progressCallBackUrl")
        ]
    created = len(live_app.emulator.tasks) - before
    assert report(
        "1 emulator SSRF",
        "test_the_builtin_emulator_calls_back_only_its_own_app",
        expected="createTask with a foreign callBackUrl: code 422, no task, no POST",
        observed=f"codes {codes}, {created} task(s) created",
        passed=codes == [422, 422] and created == 0,
    )


def test_result_files_are_not_reachable_by_task_id(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        job = live_app.wait_job(client, client.post("/api/v1/jobs", json=BODY).json()["id"])
        task = live_app.emulator.tasks[job["task_id"]]
        name = task.result_names[0]
        by_id = client.get(f"/_emulator/files/{task.task_id}/{name}")
        record = live_app.emulator.record(task.task_id)
    assert job["status"] == "completed"
    assert record is not None
    assert report(
        "1 emulator files",
        "test_result_files_are_not_reachable_by_task_id",
        expected="a finished task's file is 404 by its task id (served only under a random path)",
        observed=f"GET /_emulator/files/<task id>/<name>: {by_id.status_code}",
        passed=by_id.status_code == 404 and f"/files/{task.task_id}/" not in record["resultJson"],
    )


def test_standalone_admin_routes_take_only_the_admin_key(start_emulator: StartEmulator) -> None:
    emu = start_emulator()
    with emu.client() as api, emu.admin_client() as admin:
        by_api_key = api.get("/_admin/knobs").status_code
        by_admin_key = admin.get("/_admin/knobs").status_code
    assert (by_api_key, by_admin_key) == (401, 200)


def test_standalone_emulator_without_admin_routes(start_emulator: StartEmulator) -> None:
    emu = start_emulator(admin_key=None)
    with emu.client() as client:
        assert client.get("/_admin/knobs").status_code == 404


def test_the_emulator_command_needs_an_admin_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IMAGE2AD_EMULATOR_ADMIN_KEY"}
    argv = [sys.executable, "-m", "image2ad", "emulator", "--port", "0"]
    try:
        done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("`image2ad emulator` started serving without an admin key")
    assert done.returncode == 2 and b"--admin-key" in done.stderr, done.stderr


def test_forged_api_key_cannot_reach_the_builtin_emulator(live_app: LiveApp) -> None:
    with httpx.Client(base_url=live_app.base_url) as client:
        reply = client.post(
            "/_emulator/api/v1/jobs/createTask",
            json=IMAGE,
            headers={"Authorization": "Bearer anything"},
        ).json()
    assert reply["code"] == 401


def test_an_explicit_admin_key_opens_the_builtin_admin_routes(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "IMAGE2AD_DATA_DIR": str(tmp_path),
        "IMAGE2AD_EMULATOR_ADMIN_KEY": "operator-chosen-key",
        "KIE_API_KEY": "",
    }
    server = ServerProcess(env, port, tmp_path / "server.log")
    server.start()
    try:
        with httpx.Client(base_url=server.base_url) as client:
            by_admin_key = client.get(
                "/_emulator/_admin/knobs", headers={"Authorization": "Bearer operator-chosen-key"}
            )
            by_other_key = client.get(
                "/_emulator/_admin/knobs", headers={"Authorization": f"Bearer {PUBLISHED_KEY}"}
            )
    finally:
        server.stop()
    assert (by_admin_key.status_code, by_other_key.status_code) == (200, 401)
