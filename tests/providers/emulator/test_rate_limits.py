import logging
import time

import httpx
import pytest

from tests.fixtures.emulator import StartEmulator, create_task, record_info

BODY = {"model": "google/nano-banana", "input": {"prompt": "x"}}


def test_create_limit_answers_code_429_with_http_200_by_default(
    start_emulator: StartEmulator,
) -> None:
    emu = start_emulator(create_limit=1, create_period_s=10)
    with emu.client() as client:
        create_task(client)
        limited = client.post("/api/v1/jobs/createTask", json=BODY)

    assert limited.status_code == 200
    assert limited.json() == {"code": 429, "msg": "Rate limit exceeded", "data": None}
    assert len(emu.state.tasks) == 1
    assert emu.state.refusals["createTask"] == 1


def test_create_limit_answers_http_429_until_the_window_passes(
    start_emulator: StartEmulator,
) -> None:
    emu = start_emulator(create_limit=3, create_period_s=0.3, rate_limit_http_status=429)
    with emu.client() as client:
        accepted = [create_task(client) for _ in range(3)]
        limited = client.post("/api/v1/jobs/createTask", json=BODY)
        time.sleep(0.35)
        again = client.post("/api/v1/jobs/createTask", json=BODY)

    assert len(accepted) == 3
    assert limited.status_code == 429
    assert limited.json()["code"] == 429
    assert len(emu.state.tasks) == 4
    assert again.json()["code"] == 200


def test_create_limit_is_per_account(start_emulator: StartEmulator) -> None:
    emu = start_emulator(
        api_key=None, create_limit=1, create_period_s=10, rate_limit_http_status=429
    )
    with emu.client(api_key="account-a") as a, emu.client(api_key="account-b") as b:
        create_task(a)
        create_task(b)
        limited = a.post("/api/v1/jobs/createTask", json=BODY)

    assert limited.status_code == 429


def test_record_info_limit_answers_http_429(start_emulator: StartEmulator) -> None:
    emu = start_emulator(query_limit=2, query_period_s=10, rate_limit_http_status=429)
    with emu.client() as client:
        task_id = create_task(client)
        replies = [
            client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}) for _ in range(3)
        ]

    assert [r.status_code for r in replies] == [200, 200, 429]
    assert replies[2].json()["code"] == 429


def test_record_info_limit_counts_per_task_not_per_key(start_emulator: StartEmulator) -> None:
    emu = start_emulator(query_limit=2, query_period_s=10)
    with emu.client() as client:
        first, second = create_task(client), create_task(client)
        codes = [
            client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()["code"]
            for task_id in (first, first, second, second, first)
        ]

    assert codes == [200, 200, 200, 200, 429]
    assert emu.state.refusals["recordInfo"] == 1


def test_latency_knob_delays_every_api_response(start_emulator: StartEmulator) -> None:
    emu = start_emulator(latency_s=0.2)
    with emu.client() as client:
        started = time.monotonic()
        client.get("/api/v1/chat/credit")
        elapsed = time.monotonic() - started

    assert 0.2 <= elapsed < 1.0


def test_create_latency_times_out_after_the_task_exists(
    start_emulator: StartEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    emu = start_emulator(create_latency_s=0.3)
    with emu.client(timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post("/api/v1/jobs/createTask", json=BODY)
    [task_id] = emu.state.tasks  # created although its id never reached the client
    with emu.client() as client:
        started = time.monotonic()
        record = record_info(client, task_id)
        elapsed = time.monotonic() - started
    time.sleep(0.3)  # the emulator answers the departed client meanwhile

    assert record["taskId"] == task_id
    assert elapsed < 0.3  # only createTask answers are slow
    assert emu.state.calls["createTask"] == 1
    assert [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR
    ] == []
