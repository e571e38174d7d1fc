"""Cropping result files to a placement's exact ratio: real images (Pillow) and real MP4s (PyAV)."""

from __future__ import annotations

import array
import math
import random
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageCms, ImageDraw

from image2ad.placements import PLACEMENTS, Placement
from image2ad.placements.crop import CropFailed, crop_file, even_size_within
from image2ad.placements.focus import focus_box

SIZES = [(1024, 1024), (1024, 576), (576, 1024), (1200, 628), (4000, 300), (333, 777)]


def busy_region(
    size: tuple[int, int], box: tuple[int, int, int, int], seed: int = 7
) -> Image.Image:
    """A flat grey image with random noise (lots of edges) inside `box` only."""
    image = Image.new("RGB", size, (128, 128, 128))
    rng = random.Random(seed)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = box
    for _ in range((right - left) * (bottom - top) // 40):
        x, y = rng.randrange(left, right - 4), rng.randrange(top, bottom - 4)
        shade = rng.choice([(0, 0, 0), (255, 255, 255), (200, 30, 30)])
        draw.rectangle((x, y, x + 3, y + 3), fill=shade)
    return image


def save(image: Image.Image, path: Path, fmt: str, **options: object) -> str:
    image.save(path, fmt, **options)  # type: ignore[arg-type]
    return str(path)


@pytest.mark.parametrize("placement", PLACEMENTS.values(), ids=list(PLACEMENTS))
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_images_of_any_size_get_the_placement_ratio(
    placement: Placement, size: tuple[int, int], tmp_path: Path
) -> None:
    source = save(busy_region(size, (0, 0, *size)), tmp_path / "in.png", "PNG")
    target = tmp_path / "out.png"
    cropped = crop_file(source, str(target), placement, "image")
    expected = placement.size_within(*size)
    if placement.matches(*size):
        assert not cropped.written and not target.exists()
        assert (cropped.width, cropped.height) == size
        return
    with Image.open(target) as out:
        assert out.format == "PNG"
        assert out.size == expected == (cropped.width, cropped.height)
        assert placement.matches(*out.size)


def test_smart_crop_keeps_the_busy_side(tmp_path: Path) -> None:
    wide = busy_region((1200, 600), (900, 100, 1180, 500))
    box = focus_box(wide, 600, 600)
    # The centre crop (300-900) would miss the subject entirely.
    assert box[0] <= 900 and box[2] >= 1180 and box[1:4:2] == (0, 600)
    source = save(wide, tmp_path / "wide.png", "PNG")
    crop_file(source, str(tmp_path / "feed.png"), PLACEMENTS["feed"], "image")
    with Image.open(tmp_path / "feed.png") as out:
        assert out.size == (600, 600)
        assert out.tobytes() == wide.crop(box).tobytes()

    tall = busy_region((600, 1200), (50, 20, 550, 300))
    top = focus_box(tall, 600, 338)
    assert top[1] <= 20 and top[3] >= 300


def test_a_subject_in_the_middle_stays_in_the_middle() -> None:
    image = busy_region((1600, 600), (700, 100, 900, 500))
    left, _, right, _ = focus_box(image, 600, 600)
    assert left <= 700 and right >= 900
    assert abs((left + right) / 2 - 800) <= 8


def test_a_flat_image_is_cut_in_the_middle() -> None:
    flat = Image.new("RGB", (1000, 500), (40, 90, 200))
    assert focus_box(flat, 500, 500) == (250, 0, 750, 500)
    # A soft gradient has some edge energy but nothing to aim at.
    gradient = Image.linear_gradient("L").resize((1000, 500)).convert("RGB")
    assert focus_box(gradient, 500, 500) == (250, 0, 750, 500)


def test_jpeg_stays_jpeg_with_its_colour_profile_and_subsampling(tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = save(
        busy_region((1000, 800), (0, 0, 1000, 800)),
        tmp_path / "in.jpg",
        "JPEG",
        quality=92,
        subsampling=0,
        icc_profile=profile,
    )
    crop_file(source, str(tmp_path / "out.jpg"), PLACEMENTS["landscape"], "image")
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.format == "JPEG" and out.size == (1000, 562)
        assert out.info.get("icc_profile") == profile
        assert out.layer[0][1:3] == (1, 1)  # 4:4:4, as the source


def test_webp_stays_webp_and_lossless_stays_lossless(tmp_path: Path) -> None:
    image = busy_region((900, 900), (0, 0, 900, 900)).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((900, 900)))
    source = save(image, tmp_path / "in.webp", "WEBP", lossless=True)
    crop_file(source, str(tmp_path / "out.webp"), PLACEMENTS["story"], "image")
    with Image.open(source) as decoded, Image.open(tmp_path / "out.webp") as out:
        assert out.format == "WEBP" and out.size == (506, 900) and out.mode == "RGBA"
        assert out.tobytes() == decoded.crop(focus_box(decoded, 506, 900)).tobytes()


def test_png_keeps_transparency_and_text(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    image = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((300, 100, 500, 300), fill=(255, 0, 0, 255))
    text = PngImagePlugin.PngInfo()
    text.add_text("Software", "image2ad test")
    source = save(image, tmp_path / "in.png", "PNG", pnginfo=text)
    crop_file(source, str(tmp_path / "out.png"), PLACEMENTS["feed"], "image")
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGBA" and out.size == (400, 400)
        assert out.getpixel((0, 0)) == (0, 0, 0, 0)
        assert out.getpixel((200, 200)) == (255, 0, 0, 255)
        assert out.text == {"Software": "image2ad test"}  # type: ignore[attr-defined]


def test_exif_orientation_counts_as_shown_and_the_crop_is_upright(tmp_path: Path) -> None:
    # Stored 1000 x 800 and tagged "rotate 90": viewers show it 800 x 1000, which is 4:5.
    stored = Image.new("RGB", (1000, 800), (20, 20, 20))
    ImageDraw.Draw(stored).rectangle((0, 0, 299, 799), fill=(250, 250, 250))
    exif = Image.Exif()
    exif[0x0112] = 6
    source = save(stored, tmp_path / "in.jpg", "JPEG", exif=exif.tobytes(), quality=95)
    target = tmp_path / "out.jpg"

    assert not crop_file(source, str(target), PLACEMENTS["portrait"], "image").written
    crop_file(source, str(target), PLACEMENTS["feed"], "image")
    with Image.open(target) as out:
        assert out.size == (800, 800)
        assert out.getexif().get(0x0112) is None
        # The white band (the stored left edge) is at the top once turned.
        top, bottom = out.getpixel((400, 10)), out.getpixel((400, 790))
        assert isinstance(top, tuple) and isinstance(bottom, tuple)
        assert min(top) > 200 and max(bottom) < 60


def test_a_cropped_image_is_not_cropped_again(tmp_path: Path) -> None:
    source = save(busy_region((1024, 1024), (0, 0, 512, 512)), tmp_path / "in.png", "PNG")
    crop_file(source, str(tmp_path / "once.png"), PLACEMENTS["link"], "image")
    again = crop_file(
        str(tmp_path / "once.png"), str(tmp_path / "twice.png"), PLACEMENTS["link"], "image"
    )
    assert not again.written and (again.width, again.height) == (1024, 536)
    assert not (tmp_path / "twice.png").exists()


def test_undecodable_images_fail_for_good(tmp_path: Path) -> None:
    whole = tmp_path / "whole.png"
    save(busy_region((640, 480), (0, 0, 640, 480)), whole, "PNG")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(whole.read_bytes()[:2000])
    with pytest.raises(CropFailed):
        crop_file(str(truncated), str(tmp_path / "out.png"), PLACEMENTS["feed"], "image")
    (tmp_path / "text.png").write_bytes(b"not an image at all")
    with pytest.raises(CropFailed):
        crop_file(
            str(tmp_path / "text.png"), str(tmp_path / "out.png"), PLACEMENTS["feed"], "image"
        )


# --- videos ----------------------------------------------------------------------------------

FPS = 24
SECONDS = 2.0
SAMPLE_RATE = 44100


def make_mp4(path: Path, size: tuple[int, int], *, audio: bool) -> str:
    """An H.264 MP4 of SECONDS at FPS whose frames change, with a 440 Hz AAC tone if `audio`."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        tone = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        if tone is not None:
            tone.layout = "mono"
        for index in range(round(FPS * SECONDS)):
            frame = av.VideoFrame.from_image(busy_region(size, (0, 0, *size), seed=index % 3))
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if tone is not None:
            for frame in _tone_frames():
                container.mux(tone.encode(frame))
            container.mux(tone.encode())
    return str(path)


def _tone_frames() -> list[av.AudioFrame]:
    frames = []
    total = int(SAMPLE_RATE * SECONDS)
    for start in range(0, total, 1024):
        count = min(1024, total - start)
        wave = (math.sin(2 * math.pi * 440 * (start + i) / SAMPLE_RATE) / 5 for i in range(count))
        frame = av.AudioFrame(format="flt", layout="mono", samples=count)
        frame.planes[0].update(array.array("f", wave).tobytes())
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, start, Fraction(1, SAMPLE_RATE)
        frames.append(frame)
    return frames


def describe(path: Path) -> dict[str, object]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames = sum(1 for _ in container.decode(video))
        return {
            "codec": video.codec_context.name,
            "size": (video.codec_context.width, video.codec_context.height),
            "rate": video.average_rate,
            "frames": frames,
            "duration_s": float(video.duration * video.time_base) if video.duration else None,
            "audio": (audio.codec_context.name, audio.sample_rate) if audio else None,
            "audio_s": float(audio.duration * audio.time_base)
            if audio and audio.duration
            else None,
        }


@pytest.mark.parametrize("audio", [True, False], ids=["with-audio", "silent"])
@pytest.mark.parametrize("placement", ["feed", "story", "link"])
def test_video_is_reencoded_to_the_ratio_keeping_rate_duration_and_audio(
    placement: str, audio: bool, tmp_path: Path
) -> None:
    source = make_mp4(tmp_path / "in.mp4", (640, 360), audio=audio)
    target = tmp_path / "out.mp4"
    cropped = crop_file(source, str(target), PLACEMENTS[placement], "video")
    before, after = describe(Path(source)), describe(target)
    width, height = after["size"]  # type: ignore[misc]
    assert (cropped.width, cropped.height) == (width, height) and cropped.written
    assert PLACEMENTS[placement].matches(width, height)
    assert width % 2 == 0 and height % 2 == 0
    assert after["codec"] == "h264"
    assert after["rate"] == before["rate"] == FPS
    assert after["frames"] == before["frames"] == FPS * SECONDS
    assert after["duration_s"] == pytest.approx(before["duration_s"], abs=1 / FPS)
    assert after["audio"] == before["audio"]
    assert after["audio_s"] == before["audio_s"]


def test_even_sides_may_cost_a_pixel_or_two_but_keep_the_ratio() -> None:
    story = PLACEMENTS["story"]
    # The exact crop (size_within) is 405 x 720; 404 or 406 wide is off by more than half a
    # pixel at 720 high, so two rows go too.
    assert story.size_within(1280, 720) == (405, 720)
    assert even_size_within(story, 1280, 720) == (404, 718)
    assert story.matches(404, 718) and not story.matches(404, 720)
    for placement in PLACEMENTS.values():
        for width, height in [(640, 360), (360, 640), (1920, 1080), (1080, 1920), (720, 720)]:
            size = even_size_within(placement, width, height)
            assert size is not None and placement.matches(*size)
            assert size[0] % 2 == 0 and size[1] % 2 == 0
            exact = placement.size_within(width, height)
            assert exact[0] - 2 <= size[0] <= exact[0] and exact[1] - 2 <= size[1] <= exact[1]


def test_a_video_too_small_for_an_even_crop_fails_for_good(tmp_path: Path) -> None:
    assert even_size_within(PLACEMENTS["story"], 2, 2) is None
    source = make_mp4(tmp_path / "tiny.mp4", (2, 2), audio=False)
    with pytest.raises(CropFailed, match="too small"):
        crop_file(source, str(tmp_path / "out.mp4"), PLACEMENTS["story"], "video")


def test_a_video_that_has_the_ratio_is_left_alone(tmp_path: Path) -> None:
    source = make_mp4(tmp_path / "in.mp4", (640, 360), audio=True)
    target = tmp_path / "out.mp4"
    cropped = crop_file(source, str(target), PLACEMENTS["landscape"], "video")
    assert not cropped.written and (cropped.width, cropped.height) == (640, 360)
    assert not target.exists()
    crop_file(source, str(target), PLACEMENTS["story"], "video")
    again = crop_file(str(target), str(tmp_path / "again.mp4"), PLACEMENTS["story"], "video")
    assert not again.written


def test_a_file_that_is_not_a_video_fails_for_good(tmp_path: Path) -> None:
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
    with pytest.raises(CropFailed):
        crop_file(
            str(tmp_path / "junk.mp4"), str(tmp_path / "out.mp4"), PLACEMENTS["feed"], "video"
        )
