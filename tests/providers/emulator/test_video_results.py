"""Sora results are short H.264 MP4 clips a browser can play."""

import io
import json
import threading
from dataclasses import dataclass

import av
import httpx
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from image2ad.providers.emulator import media
from image2ad.providers.emulator.render import background
from tests.fixtures.emulator import RunningEmulator, create_task, record_info, upload_file

SIZES = {"landscape": (640, 360), "portrait": (360, 640)}
REFERENCE_COLOUR = (30, 160, 220)


@dataclass
class Clip:
    codec: str
    pix_fmt: str | None
    size: tuple[int, int]
    duration_s: float
    frames: list[Image.Image]


def open_clip(data: bytes) -> Clip:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_image() for frame in container.decode(stream)]
        assert container.duration is not None
        return Clip(
            stream.codec_context.name,
            stream.codec_context.pix_fmt,
            (stream.width, stream.height),
            container.duration / av.time_base,
            frames,
        )


def sora_result(
    emu: RunningEmulator, client: httpx.Client, model: str, **inp: object
) -> tuple[str, dict[str, list[str]]]:
    task_id = create_task(client, model, **inp)
    emu.state.force_success(task_id)
    return task_id, json.loads(record_info(client, task_id)["resultJson"])


def fetch_video(url: str) -> bytes:
    response = httpx.get(url)  # result files need no auth, like Kie's CDN
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    return response.content


def middle_band(frame: Image.Image) -> Image.Image:
    """The frame without the label strip at the top and the prompt band at the bottom."""
    return frame.crop((0, frame.height * 35 // 100, frame.width, frame.height * 65 // 100))


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def near(colour: list[float], expected: tuple[int, ...], tolerance: float = 12) -> bool:
    return all(abs(c - e) <= tolerance for c, e in zip(colour, expected, strict=True))


@pytest.mark.parametrize("aspect", list(SIZES))
def test_text_to_video_is_an_animated_h264_mp4(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client, aspect: str
) -> None:
    _, result = sora_result(
        shared_emulator, shared_kie, "sora-2-text-to-video", aspect_ratio=aspect
    )

    [url], [watermarked_url] = result["resultUrls"], result["resultWaterMarkUrls"]
    data = fetch_video(url)
    clip = open_clip(data)

    assert url.endswith(".mp4") and watermarked_url.endswith(".mp4")
    assert url != watermarked_url
    assert fetch_video(watermarked_url) == data
    assert data[4:8] == b"ftyp"
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while downloading
    assert clip.codec == "h264"
    assert clip.pix_fmt == "yuv420p"
    assert clip.size == SIZES[aspect]
    assert clip.duration_s >= 2.0
    assert {frame.size for frame in clip.frames} == {SIZES[aspect]}
    first, middle = clip.frames[0], clip.frames[len(clip.frames) // 2]
    assert mean_difference(first, middle) > 0.5


def reference_png() -> bytes:
    image = Image.new("RGB", (800, 600), REFERENCE_COLOUR)
    ImageDraw.Draw(image).rectangle((500, 240, 620, 360), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_image_to_video_moves_over_the_uploaded_reference(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    reference_url = upload_file(shared_kie, reference_png(), "ref.png")
    _, result = sora_result(
        shared_emulator,
        shared_kie,
        "sora-2-image-to-video",
        image_urls=[reference_url],
        aspect_ratio="landscape",
    )

    clip = open_clip(fetch_video(result["resultUrls"][0]))

    assert clip.size == SIZES["landscape"]
    first, last = middle_band(clip.frames[0]), middle_band(clip.frames[-1])
    assert near(ImageStat.Stat(first).median, REFERENCE_COLOUR)
    assert near(ImageStat.Stat(last).median, REFERENCE_COLOUR)
    assert mean_difference(first, last) > 2  # the Ken Burns zoom moved the white square


def test_image_to_video_without_a_local_reference_is_text_only(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    task_id, result = sora_result(
        shared_emulator,
        shared_kie,
        "sora-2-image-to-video",
        image_urls=["https://example.com/not-here.png"],
    )

    clip = open_clip(fetch_video(result["resultUrls"][0]))

    assert clip.codec == "h264"
    assert near(ImageStat.Stat(middle_band(clip.frames[0])).median, background(task_id))


def test_a_clip_is_rendered_once_even_when_first_asked_concurrently(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[str] = []
    real = media.render_video

    def counting(*args: object, **kwargs: object) -> bytes:
        renders.append(str(kwargs["seed"]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(media, "render_video", counting)
    task_id, result = sora_result(shared_emulator, shared_kie, "sora-2-text-to-video")
    urls = [*result["resultUrls"], *result["resultWaterMarkUrls"]] * 2
    bodies: list[bytes] = []
    threads = [threading.Thread(target=lambda u=u: bodies.append(fetch_video(u))) for u in urls]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(bodies) == 4 and len(set(bodies)) == 1
    # Other tasks of the shared emulator may be rendered meanwhile (ahead of their end).
    assert renders.count(task_id) == 1
