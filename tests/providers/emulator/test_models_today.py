"""Results of today's models: image sizes and formats, clip shapes and lengths, expired uploads."""

import io
import json
import time

import av
import httpx
import pytest
from PIL import Image

from tests.fixtures.emulator import RunningEmulator, StartEmulator, record_info, upload_file
from tests.providers.emulator.inputs import create


def finished(emu: RunningEmulator, client: httpx.Client, model: str, **inp: object) -> dict:
    task_id = create(client, model, **inp)
    emu.state.force_success(task_id)
    return record_info(client, task_id)


def fetch(url: str) -> httpx.Response:
    response = httpx.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(
    ("model", "inp", "size", "fmt"),
    [
        ("nano-banana-2", {}, (1024, 1024), "JPEG"),  # auto at 1K, jpg by default
        ("nano-banana-2", {"aspect_ratio": "1:4", "output_format": "png"}, (256, 1024), "PNG"),
        ("nano-banana-2", {"aspect_ratio": "16:9", "resolution": "2K"}, (1536, 864), "JPEG"),
        ("nano-banana-pro", {"aspect_ratio": "4:5", "resolution": "4K"}, (1638, 2048), "PNG"),
        ("nano-banana-pro", {"output_format": "jpg"}, (1024, 1024), "JPEG"),
        ("gpt-image-2-text-to-image", {"aspect_ratio": "3:1"}, (1024, 341), "PNG"),
        ("gpt-image-2-image-to-image", {"aspect_ratio": "9:16"}, (576, 1024), "PNG"),
        ("seedream/4.5-text-to-image", {"aspect_ratio": "3:2"}, (1536, 1024), "JPEG"),
        ("seedream/4.5-edit", {"quality": "high"}, (2048, 1152), "JPEG"),
    ],
)
def test_image_results_honour_ratio_resolution_and_format(
    shared_emulator: RunningEmulator,
    shared_kie: httpx.Client,
    model: str,
    inp: dict,
    size: tuple[int, int],
    fmt: str,
) -> None:
    record = finished(shared_emulator, shared_kie, model, **inp)
    [url] = record["response"]["resultUrls"]

    response = fetch(url)
    image = Image.open(io.BytesIO(response.content))

    assert (image.size, image.format) == (size, fmt)
    assert url.endswith(".jpg" if fmt == "JPEG" else ".png")
    assert response.headers["content-type"] == f"image/{fmt.lower()}"


@pytest.mark.parametrize(
    ("model", "inp", "size", "seconds"),
    [
        ("kling-3.0/video", {"aspect_ratio": "9:16", "duration": "10"}, (360, 640), 2.5),
        ("kling-3.0/video", {"aspect_ratio": "1:1"}, (640, 640), 1.25),
        ("bytedance/seedance-2-mini", {"duration": 15, "aspect_ratio": "16:9"}, (640, 360), 3.75),
        ("minimax-h3/text-to-video", {"duration": 8, "aspect_ratio": "9:16"}, (360, 640), 2.0),
    ],
)
def test_video_results_honour_ratio_and_scaled_duration(
    shared_emulator: RunningEmulator,
    shared_kie: httpx.Client,
    model: str,
    inp: dict,
    size: tuple[int, int],
    seconds: float,
) -> None:
    record = finished(shared_emulator, shared_kie, model, **inp)
    [url] = record["response"]["resultUrls"]
    assert "resultWaterMarkUrls" not in json.loads(record["resultJson"])

    data = fetch(url).content
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        duration = container.duration / av.time_base
        shape = (stream.width, stream.height)

    assert shape == size
    assert abs(duration - seconds) < 0.15


def test_image_to_video_starts_from_the_uploaded_first_frame(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (30, 160, 220)).save(out, format="PNG")
    frame_url = upload_file(shared_kie, out.getvalue(), "first.png")

    record = finished(
        shared_emulator, shared_kie, "minimax-h3/image-to-video", first_frame_url=frame_url
    )
    data = fetch(record["response"]["resultUrls"][0]).content
    with av.open(io.BytesIO(data)) as container:
        first = next(container.decode(video=0)).to_image()

    r, g, b = first.getpixel((first.width // 2, first.height // 2))
    assert abs(r - 30) < 20 and abs(g - 160) < 20 and abs(b - 220) < 20


def test_uploads_expire_and_a_task_using_one_fails(start_emulator: StartEmulator) -> None:
    emu = start_emulator(upload_ttl_s=0.3, image_duration_s=0.05)
    with emu.client() as client:
        url = upload_file(client, b"\x89PNG fake", "ref.png")
        fresh = httpx.get(url).status_code
        time.sleep(0.35)
        expired = httpx.get(url).status_code
        task_id = create(client, "gpt-image-2-image-to-image", input_urls=[url])
        time.sleep(0.1)
        record = record_info(client, task_id)
        balance = client.get("/api/v1/chat/credit").json()["data"]

    assert (fresh, expired) == (200, 404)
    assert record["state"] == "fail"
    assert record["failCode"] == "500"
    assert url in record["failMsg"]
    assert record["creditsConsumed"] == 0
    assert balance == 100_000


def test_upload_ttl_defaults_to_24_hours(emulator: RunningEmulator) -> None:
    assert emulator.settings.upload_ttl_s == 86_400
