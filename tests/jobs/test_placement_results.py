"""A job made for a placement ends with a result of that exact ratio, and every completed job
records the SHA-256 of exactly the bytes `/result` serves: real HTTP, emulator and database."""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
from typing import Any

import av
import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from image2ad.models import Job
from image2ad.placements import PLACEMENTS
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp


def start_for_placement(
    live_app: LiveApp, client: httpx.Client, placement: str | None, **body: Any
) -> str:
    """Create a job the emulator holds, give it a placement as a pack does, then let it end."""
    live_app.emulator.settings.image_duration_s = 30
    live_app.emulator.settings.video_duration_s = 30
    response = client.post("/api/v1/jobs", json={"prompt": "Cold brew can on ice", **body})
    assert response.status_code == 202, response.text
    job_id = str(response.json()["id"])
    task_id = wait_task_id(client, job_id)
    if placement is not None:
        with live_app.db.session() as session:
            session.execute(sa.update(Job).where(Job.id == job_id).values(placement=placement))
    live_app.emulator.force_success(task_id)
    return job_id


def fetch_result(client: httpx.Client, job: dict[str, Any]) -> bytes:
    response = client.get(f"/api/v1/jobs/{job['id']}/result")
    assert response.status_code == 200, response.text
    assert job["result_sha256"] == hashlib.sha256(response.content).hexdigest()
    return response.content


def video_size(data: bytes) -> tuple[int, int]:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as file:
        file.write(data)
        file.flush()
        with av.open(file.name) as container:
            codec = container.streams.video[0].codec_context
            return codec.width, codec.height


@pytest.mark.parametrize(
    ("placement", "aspect_ratio", "size"),
    [("story", "1:1", (576, 1024)), ("link", "16:9", (1024, 536)), ("feed", "1:1", (1024, 1024))],
)
def test_image_job_for_a_placement_ends_with_its_exact_ratio(
    live_app: LiveApp, placement: str, aspect_ratio: str, size: tuple[int, int]
) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job_id = start_for_placement(
            live_app, client, placement, type="text-to-image", aspect_ratio=aspect_ratio
        )
        done = live_app.wait_job(client, job_id)
        assert done["status"] == "completed", done
        data = fetch_result(client, done)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == size
    assert (done["result_width"], done["result_height"]) == size
    assert PLACEMENTS[placement].matches(*image.size)
    assert done["placement"] == placement
    assert_ledger_invariants(live_app.db, user.id)


def test_video_job_for_a_placement_is_cropped_before_its_poster_is_made(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=20)
    with live_app.client(user) as client:
        job_id = start_for_placement(live_app, client, "portrait", type="text-to-video")
        done = live_app.wait_job(client, job_id)
        assert done["status"] == "completed", done
        data = fetch_result(client, done)
        poster = client.get(done["poster_url"])
    assert video_size(data) == (done["result_width"], done["result_height"]) == (288, 360)
    assert PLACEMENTS["portrait"].matches(288, 360)
    assert Image.open(io.BytesIO(poster.content)).size == (288, 360)
    assert done["result_duration_s"] and done["result_duration_s"] > 1
    assert_ledger_invariants(live_app.db, user.id)


def test_video_job_without_a_placement_records_the_hash_of_its_file(live_app: LiveApp) -> None:
    user = live_app.user(credits=20)
    with live_app.client(user) as client:
        job_id = start_for_placement(live_app, client, None, type="text-to-video")
        done = live_app.wait_job(client, job_id)
        assert done["status"] == "completed", done
        data = fetch_result(client, done)
    assert video_size(data) == (640, 360)


def test_a_result_that_cannot_be_decoded_fails_the_job_with_a_refund(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    emulator = live_app.emulator
    emulator.settings.image_duration_s = 30
    with live_app.client(user) as client:
        response = client.post(
            "/api/v1/jobs",
            json={"type": "text-to-image", "prompt": "Broken file", "aspect_ratio": "1:1"},
        )
        job_id = response.json()["id"]
        task_id = wait_task_id(client, job_id)
        with live_app.db.session() as session:
            session.execute(sa.update(Job).where(Job.id == job_id).values(placement="story"))
        # A PNG whose header reads well (the download's check passes) and whose pixels are cut.
        whole = io.BytesIO()
        Image.effect_noise((1024, 1024), 60).save(whole, "PNG")
        task = emulator.tasks[task_id]
        emulator.renders.put((task_id, task.result_names[0]), whole.getvalue()[:4000])
        emulator.force_success(task_id)
        done = live_app.wait_job(client, job_id)
        assert client.get("/api/v1/me").json()["credits"] == 2
        assert client.get(f"/api/v1/jobs/{job_id}/result").status_code == 404
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "result_unavailable"
    assert done["credits_refunded"] == 1 and done["result_sha256"] is None
    assert_ledger_invariants(live_app.db, user.id)


def wait_task_id(client: httpx.Client, job_id: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["task_id"]:
            return str(job["task_id"])
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got a task id")
