"""Observability across real processes: two API processes and a worker of one host sum their
counted metrics in one directory, and every line they write is JSON naming its request or job.

SQLite, the standalone emulator over HTTP, `serve --no-worker` twice and `worker` once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.fixtures.emulator import run_emulator
from tests.fixtures.factories import create_user
from tests.fixtures.processes import ServerProcess
from tests.ops.servers import app_env, server, wait_job


def samples(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reply = httpx.get(f"{base_url}/metrics", timeout=30)
    assert reply.status_code == 200, reply.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def requests_total(found: dict[tuple[str, frozenset[tuple[str, str]]], float], op: str) -> float:
    labels = frozenset({"operation": op, "outcome": "ok"}.items())
    return found.get(("image2ad_provider_requests_total", labels), 0.0)


def json_lines(log: Path) -> list[dict[str, Any]]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines, f"{log} is empty"
    return [json.loads(line) for line in lines]


def test_processes_of_a_host_sum_their_metrics_and_log_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    upgrade(url)
    db = Database(url)
    user = create_user(db)
    db.dispose()
    processes: list[ServerProcess] = []
    with run_emulator(image_duration_s=0.5) as emu:
        env = app_env(
            tmp_path,
            url,
            KIE_API_KEY=emu.api_key,
            KIE_BASE_URL=emu.base_url,
            KIE_UPLOAD_BASE_URL=emu.base_url,
            IMAGE2AD_DOWNLOAD_HTTP_ORIGINS=emu.base_url,
            IMAGE2AD_LOG_FORMAT="json",
            IMAGE2AD_LOG_LEVEL="DEBUG",
        )
        try:
            apis = []
            for name in ("api-1", "api-2"):
                api = server(env | {"IMAGE2AD_EXECUTOR_ID": name}, tmp_path, name)
                api.args = ("serve", "--no-worker", "--port", str(api.port))
                processes.append(api)
                apis.append(api)
            worker = server(env | {"IMAGE2AD_EXECUTOR_ID": "worker-1"}, tmp_path, "worker-1")
            worker.args = ("worker",)
            processes.append(worker)
            for process in processes:
                process.start(wait=False)
            for api in apis:
                api.wait_ready()

            # Each API process asks Kie for the balance once (its own /readyz cache).
            for api in apis:
                assert httpx.get(f"{api.base_url}/readyz", timeout=30).json()["provider"][
                    "key_valid"
                ]
            with httpx.Client(base_url=apis[0].base_url, headers=user.headers) as client:
                reply = client.post(
                    "/api/v1/jobs",
                    json={"type": "text-to-image", "prompt": "Summed"},
                    headers={"X-Request-ID": "ops-request-1"},
                )
                assert reply.status_code == 202, reply.text
                assert reply.headers["x-request-id"] == "ops-request-1"
                job_id = reply.json()["id"]
                # The key in a path: the access log line must not carry it.
                client.get(f"/api/v1/jobs/{user.api_key}")
            assert wait_job(apis[0].base_url, user.headers, job_id)["status"] == "completed"

            both = [samples(api.base_url) for api in apis]
            for found in both:
                assert requests_total(found, "credit") == 2
                # Sent by the worker, which serves no HTTP: read from its file.
                assert requests_total(found, "createTask") >= 1
            files = {p.name for p in (tmp_path / "metrics").iterdir()}
            assert {"counter_api-1.db", "counter_api-2.db", "counter_worker-1.db"} <= files
        finally:
            for process in processes:
                process.stop()

        # A restarted process resumes its own counts: nothing is lost, nothing doubled.
        again = server(env | {"IMAGE2AD_EXECUTOR_ID": "api-1"}, tmp_path, "api-1-again")
        again.args = ("serve", "--no-worker", "--port", str(again.port))
        again.start()
        try:
            assert requests_total(samples(again.base_url), "credit") == 2
        finally:
            again.stop()

    api_lines = json_lines(tmp_path / "api-1.log")
    worker_lines = json_lines(tmp_path / "worker-1.log")
    for line in api_lines + worker_lines:
        assert {"time", "level", "logger", "message"} <= set(line)
    tagged = [line for line in api_lines if line.get("request_id") == "ops-request-1"]
    assert any(line["logger"] == "uvicorn.access" for line in tagged)
    assert any(line.get("job_id") == job_id for line in worker_lines)
    text = (tmp_path / "api-1.log").read_text()
    assert user.api_key not in text
    assert "i2a_[redacted]" in text
