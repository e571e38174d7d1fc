import io
import json

import httpx
import pytest
from PIL import Image

from tests.fixtures.emulator import RunningEmulator, create_task, record_info

RATIOS = {
    "1:1": 1.0,
    "9:16": 9 / 16,
    "16:9": 16 / 9,
    "3:4": 3 / 4,
    "4:3": 4 / 3,
    "3:2": 3 / 2,
    "2:3": 2 / 3,
    "5:4": 5 / 4,
    "4:5": 4 / 5,
    "21:9": 21 / 9,
    "auto": 1.0,
}


def finished(emu: RunningEmulator, client: httpx.Client, model: str, **inp: object) -> dict:
    task_id = create_task(client, model, **inp)
    emu.state.force_success(task_id)
    return json.loads(record_info(client, task_id)["resultJson"])


def fetch_image(url: str) -> tuple[httpx.Response, Image.Image]:
    response = httpx.get(url)  # result files need no auth, like Kie's CDN
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return response, image


@pytest.mark.parametrize("ratio", list(RATIOS))
def test_image_result_is_a_png_of_the_requested_ratio(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client, ratio: str
) -> None:
    result = finished(shared_emulator, shared_kie, "google/nano-banana", aspect_ratio=ratio)

    response, image = fetch_image(result["resultUrls"][0])

    assert response.headers["content-type"] == "image/png"
    assert image.format == "PNG"
    assert max(image.size) == 1024
    assert image.width / image.height == pytest.approx(RATIOS[ratio], rel=0.01)


def test_deprecated_image_size_sets_the_ratio(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    result = finished(shared_emulator, shared_kie, "google/nano-banana", image_size="9:16")

    _, image = fetch_image(result["resultUrls"][0])

    assert image.size == (576, 1024)


def test_jpeg_output_format_gives_a_jpeg(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    result = finished(shared_emulator, shared_kie, "google/nano-banana-edit", output_format="jpeg")

    response, image = fetch_image(result["resultUrls"][0])

    assert result["resultUrls"][0].endswith(".jpg")
    assert response.headers["content-type"] == "image/jpeg"
    assert image.format == "JPEG"
    assert image.size == (1024, 1024)


@pytest.mark.parametrize(
    ("aspect", "size"), [("portrait", (576, 1024)), ("landscape", (1024, 576))]
)
def test_sora_results_are_png_posters_for_now(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client, aspect: str, size: tuple[int, int]
) -> None:
    result = finished(shared_emulator, shared_kie, "sora-2-image-to-video", aspect_ratio=aspect)

    for url in (*result["resultUrls"], *result["resultWaterMarkUrls"]):
        _, image = fetch_image(url)
        assert url.endswith(".png")
        assert image.format == "PNG"
        assert image.size == size


def test_result_is_rendered_once_and_served_from_cache(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    url = finished(shared_emulator, shared_kie, "google/nano-banana")["resultUrls"][0]

    first, second = httpx.get(url), httpx.get(url)

    assert first.content == second.content


def test_no_file_before_success_or_for_unknown_names(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    task_id = create_task(shared_kie)  # still running: image_duration_s is 0.4 s
    name = shared_emulator.state.tasks[task_id].result_names[0]
    base = shared_emulator.base_url

    assert httpx.get(f"{base}/files/{task_id}/{name}").status_code == 404
    assert httpx.get(f"{base}/files/{'0' * 32}/x.png").status_code == 404


def test_download_url_returns_our_own_urls_and_rejects_others(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    url = finished(shared_emulator, shared_kie, "google/nano-banana")["resultUrls"][0]

    own = shared_kie.post("/api/v1/common/download-url", json={"url": url}).json()
    external = shared_kie.post(
        "/api/v1/common/download-url", json={"url": "https://example.com/a.png"}
    ).json()
    missing = shared_kie.post("/api/v1/common/download-url", json={}).json()

    assert own == {"code": 200, "msg": "success", "data": url}
    assert external == {"code": 422, "msg": "External file URLs are not supported"}
    assert missing["code"] == 422
