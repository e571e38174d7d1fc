import io
import json
import time

import httpx
import pytest
from PIL import Image

from image2ad.providers.emulator import media
from tests.fixtures.emulator import (
    RunningEmulator,
    StartEmulator,
    create_task,
    record_info,
    upload_file,
)

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


@pytest.fixture(scope="module")
def clip_url(shared_emulator: RunningEmulator) -> str:
    with shared_emulator.client() as client:
        return str(finished(shared_emulator, client, "sora-2-text-to-video")["resultUrls"][0])


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None)],
)
def test_range_request_returns_206_with_those_bytes(
    clip_url: str, header: str, first: int, last: int | None
) -> None:
    whole = httpx.get(clip_url)
    size = len(whole.content)

    part = httpx.get(clip_url, headers={"Range": header})

    expected = whole.content[first : None if last is None else last + 1]
    start = first % size
    assert whole.headers["accept-ranges"] == "bytes"
    assert part.status_code == 206
    assert part.content == expected
    assert part.headers["content-type"] == "video/mp4"
    assert part.headers["content-length"] == str(len(expected))
    assert part.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/{size}"


def test_range_past_the_end_is_416_and_a_stale_if_range_gets_everything(clip_url: str) -> None:
    whole = httpx.get(clip_url)
    size = len(whole.content)

    beyond = httpx.get(clip_url, headers={"Range": f"bytes={size}-"})
    stale = httpx.get(clip_url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    fresh = httpx.get(clip_url, headers={"Range": "bytes=0-9", "If-Range": whole.headers["etag"]})
    multiple = httpx.get(clip_url, headers={"Range": "bytes=0-9,20-29"})
    head = httpx.head(clip_url)

    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert (stale.status_code, stale.content) == (200, whole.content)
    assert (fresh.status_code, fresh.content) == (206, whole.content[:10])
    assert (multiple.status_code, multiple.content) == (200, whole.content)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(size)


def test_uploads_are_served_with_ranges_too(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    url = upload_file(shared_kie, bytes(range(256)), "bytes.bin")

    part = httpx.get(url, headers={"Range": "bytes=10-19"})

    assert part.status_code == 206
    assert part.content == bytes(range(10, 20))


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
    assert external == {"code": 422, "msg": "External file URLs are not supported", "data": None}
    assert missing["code"] == 422


def test_a_result_is_drawn_before_its_task_ends_and_a_failing_one_never(
    start_emulator: StartEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kie's files exist by completeTime: the first download must not wait for the drawing.
    drawn: list[tuple[str, float]] = []
    real = media.render_image

    def timed(*args: object, **kwargs: object) -> bytes:
        drawn.append((str(kwargs["seed"]), time.time()))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(media, "render_image", timed)
    emu = start_emulator(image_duration_s=6.0)
    with emu.client() as kie:
        ok = create_task(kie, "google/nano-banana")
        doomed = create_task(kie, "google/nano-banana")
        emu.state.force_fail(doomed)
        ends_at = emu.state.tasks[ok].terminal_at
        time.sleep(max(0.0, ends_at - time.time()) + 0.2)
        result = json.loads(record_info(kie, ok)["resultJson"])

    fetch_image(result["resultUrls"][0])

    # (Other emulators of this process may draw their own tasks meanwhile.)
    mine = [(seed, at) for seed, at in drawn if seed in (ok, doomed)]
    assert [seed for seed, _ in mine] == [ok]
    assert mine[0][1] < ends_at
