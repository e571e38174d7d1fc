"""Cancel, retry, delete and the live event stream of a job."""

from __future__ import annotations

import json
import time

from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Gold watch on black velvet", "aspect_ratio": "4:5"}


def test_cancel_refunds_once_and_a_late_success_changes_nothing(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    live_app.emulator.settings.image_duration_s = 30
    try:
        with live_app.client(user) as client:
            job = client.post("/api/v1/jobs", json=BODY).json()
            deadline = time.monotonic() + 20
            while not client.get(f"/api/v1/jobs/{job['id']}").json()["task_id"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            canceled = client.post(f"/api/v1/jobs/{job['id']}/cancel")
            assert canceled.status_code == 200
            assert canceled.json()["status"] == "canceled"
            assert canceled.json()["credits_refunded"] == 1
            again = client.post(f"/api/v1/jobs/{job['id']}/cancel")
            assert again.status_code == 409
            task_id = canceled.json()["task_id"]
            live_app.emulator.force_success(task_id)
            time.sleep(1.5)  # the late callback arrives and is ignored
            final = client.get(f"/api/v1/jobs/{job['id']}").json()
            assert final["status"] == "canceled" and final["result_path"] is None
            assert client.get("/api/v1/me").json()["credits"] == 2
    finally:
        live_app.emulator.settings.image_duration_s = 0.6
    assert_ledger_invariants(live_app.db, user.id)


def test_retry_makes_a_new_job_with_the_same_recipe(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        first = live_app.wait_job(client, client.post("/api/v1/jobs", json=BODY).json()["id"])
        again = client.post(f"/api/v1/jobs/{first['id']}/retry")
        assert again.status_code == 202
        second = again.json()
        assert second["id"] != first["id"]
        assert (second["prompt"], second["params"]) == (first["prompt"], first["params"])
        assert live_app.wait_job(client, second["id"])["status"] == "completed"
        assert client.get("/api/v1/me").json()["credits"] == 1
    assert_ledger_invariants(live_app.db, user.id)


def test_delete_hides_the_job_and_removes_its_file(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        done = live_app.wait_job(client, client.post("/api/v1/jobs", json=BODY).json()["id"])
        path = live_app.app.state.runtime.storage.local_path(done["result_path"])
        assert client.delete(f"/api/v1/jobs/{done['id']}").status_code == 204
        assert client.get(f"/api/v1/jobs/{done['id']}").status_code == 404
        assert client.get(done["result_url"]).status_code == 404
        assert client.get("/api/v1/jobs").json()["items"] == []
        assert client.delete(f"/api/v1/jobs/{done['id']}").status_code == 404
    import os

    assert not os.path.exists(path)
    assert_ledger_invariants(live_app.db, user.id)


def test_events_stream_the_stages_until_the_job_ends(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json=BODY).json()
        snapshots = []
        with client.stream("GET", f"/api/v1/jobs/{job['id']}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data:"):
                    snapshots.append(json.loads(line[5:]))
    statuses = [s["status"] for s in snapshots]
    assert statuses[-1] == "completed" and len(snapshots) >= 2
    assert snapshots[-1]["result_url"]
    stranger = live_app.user()
    with live_app.client(stranger) as client:
        assert client.get(f"/api/v1/jobs/{job['id']}/events").status_code == 404
