"""All four generation types end to end through the HTTP API, with real files back."""

from __future__ import annotations

import io
import tempfile

import av
import pytest
from PIL import Image

from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp


def upload(client, color=(220, 40, 40)) -> str:  # type: ignore[no-untyped-def]
    data = image_bytes("PNG", (320, 240), color)
    response = client.post("/api/v1/uploads", files={"file": ("ref.png", data, "image/png")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_image_to_image_sends_the_reference_through_kies_upload(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        upload_id = upload(client)
        job = client.post(
            "/api/v1/jobs",
            json={
                "type": "image-to-image",
                "prompt": "Put the product on a marble table",
                "aspect_ratio": "4:5",
                "source_upload_id": upload_id,
            },
        )
        assert job.status_code == 202, job.text
        done = live_app.wait_job(client, job.json()["id"])
        assert done["status"] == "completed", done
        assert done["model"] == "google/nano-banana-edit"
        assert done["source_upload_id"] == upload_id
        task = live_app.emulator.tasks[done["task_id"]]
        assert task.input["image_urls"] == [done["source_image_url"]]
        assert done["source_image_url"].startswith(live_app.app.state.runtime.kie_upload_base_url)
        image = Image.open(io.BytesIO(client.get(f"/api/v1/jobs/{done['id']}/result").content))
        assert image.format == "PNG" and image.size[0] < image.size[1]  # 4:5 portrait
    assert_ledger_invariants(live_app.db, user.id)


@pytest.mark.parametrize(("ratio", "orientation"), [("16:9", "16:9"), ("portrait", "9:16")])
def test_text_to_video_returns_a_playable_mp4(
    live_app: LiveApp, ratio: str, orientation: str
) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job = client.post(
            "/api/v1/jobs",
            json={
                "type": "text-to-video",
                "prompt": "Slow dolly over a sneaker, neon rim light",
                "aspect_ratio": ratio,
                "n_frames": "15",
            },
        ).json()
        # The default video model (Kling 3.0) with the original fields mapped onto its own.
        assert job["model"] == "kling-3.0/video"
        assert job["params"] == {
            "aspect_ratio": orientation,
            "duration": 15,
            "mode": "std",
            "sound": True,
        }
        done = live_app.wait_job(client, job["id"])
        assert done["status"] == "completed", done
        assert done["result_type"] == "video" and done["result_path"].endswith(".mp4")
        assert done["result_content_type"] == "video/mp4"
        assert done["result_duration_s"] and done["result_duration_s"] >= 1
        wide = done["result_width"] > done["result_height"]
        assert wide == (orientation == "16:9")
        assert live_app.emulator.tasks[done["task_id"]].input["duration"] == "15"
        video = client.get(f"/api/v1/jobs/{done['id']}/result").content
        poster = client.get(done["poster_url"])
        assert poster.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(poster.content)).format == "JPEG"
    with tempfile.NamedTemporaryFile(suffix=".mp4") as handle:
        handle.write(video)
        handle.flush()
        with av.open(handle.name) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) > 10
    assert_ledger_invariants(live_app.db, user.id)


def test_image_to_video_needs_exactly_one_reference(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        missing = client.post("/api/v1/jobs", json={"type": "image-to-video", "prompt": "go"})
        assert missing.status_code == 422
        assert missing.json()["error"]["field"] == "source_upload_id"
        upload_id = upload(client, color=(30, 200, 60))
        done = live_app.wait_job(
            client,
            client.post(
                "/api/v1/jobs",
                json={
                    "type": "image-to-video",
                    "prompt": "The bottle spins slowly",
                    "source_upload_id": upload_id,
                    "aspect_ratio": "1:1",
                },
            ).json()["id"],
        )
        assert done["status"] == "completed", done
        # Hailuo 03 (the default) takes the frame's shape from the image: no ratio to send.
        assert done["model"] == "minimax-h3/image-to-video"
        assert done["params"] == {"duration": 6, "resolution": "768P"}
        task = live_app.emulator.tasks[done["task_id"]]
        assert task.input["first_frame_url"] == done["source_image_url"]
    assert_ledger_invariants(live_app.db, user.id)


def test_video_results_answer_range_requests(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        done = live_app.wait_job(
            client,
            client.post(
                "/api/v1/jobs", json={"type": "text-to-video", "prompt": "Waves at dusk"}
            ).json()["id"],
        )
        url = f"/api/v1/jobs/{done['id']}/result"
        whole = client.get(url).content
        part = client.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
        assert part.content == whole[100:200]
        tail = client.get(done["result_url"], headers={"Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == whole[-50:]
        beyond = client.get(url, headers={"Range": f"bytes={len(whole) + 10}-"})
        assert beyond.status_code == 416
