"""Cancel, retry, delete and the live event stream of a job."""

from __future__ import annotations

import json
import os

from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Gold watch on black velvet", "aspect_ratio": "4:5"}


def test_cancel_refunds_once_and_a_late_success_changes_nothing(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    emulator = live_app.emulator
    emulator.settings.image_duration_s = 30
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json=BODY).json()
        wait_until(lambda: client.get(f"/api/v1/jobs/{job['id']}").json()["task_id"], timeout=20)
        canceled = client.post(f"/api/v1/jobs/{job['id']}/cancel")
        assert canceled.status_code == 200
        assert canceled.json()["status"] == "canceled"
        assert canceled.json()["credits_refunded"] == 1
        again = client.post(f"/api/v1/jobs/{job['id']}/cancel")
        assert again.status_code == 409
        task_id = canceled.json()["task_id"]
        emulator.force_success(task_id)
        # The late callback was answered (so handled) before the emulator records its delivery.
        wait_until(
            lambda: any(a.task_id == task_id and a.ok for a in emulator.callback_attempts),
            timeout=10,
        )
        final = client.get(f"/api/v1/jobs/{job['id']}").json()
        assert final["status"] == "canceled" and final["result_path"] is None
        assert client.get("/api/v1/me").json()["credits"] == 2
    assert task_id not in emulator.served_results, "a canceled job's result is not downloaded"
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
