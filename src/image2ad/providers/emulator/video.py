"""Placeholder video results: short H.264 MP4s drawn with Pillow and encoded with PyAV."""

from __future__ import annotations

import hashlib
import io
import math
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

from image2ad.providers.emulator.render import Font, background, draw_label, frame_size, wrap_text

FPS = 20
DURATION_S = 2.5
LONG_SIDE = 640
ZOOM = 1.18
"""Ken Burns: how far the reference is zoomed in by the last frame."""
MAX_REFERENCE_PIXELS = 40_000_000
UNREADABLE_REFERENCE = "reference image unreadable: text only"
TEXT = (245, 245, 245)
DIM = (205, 205, 205)
ACCENT = (255, 210, 90)
SHADE = (0, 0, 0, 150)


class _Layout:
    def __init__(self, size: tuple[int, int], duration_s: float) -> None:
        self.width, self.height = size
        self.duration_s = duration_s
        self.frame_count = max(2, round(FPS * duration_s))
        short = min(size)
        self.margin = max(12, short // 24)
        self.body_size = max(14, short // 16)
        self.small_size = max(11, short // 26)
        self.line_height = int(self.body_size * 1.3)
        self.body: Font = ImageFont.load_default(size=self.body_size)
        self.small: Font = ImageFont.load_default(size=self.small_size)
        self.bar_height = max(3, short // 90)
        # Top of the bottom caption row; the moving bar sits below it.
        self.caption_y = self.height - self.margin - self.small_size - self.bar_height

    def footer(self, draw: ImageDraw.ImageDraw, caption: str, note: str) -> None:
        draw.text((self.margin, self.caption_y), caption, fill=DIM, font=self.small)
        if note:
            y = self.caption_y - self.small_size - self.margin // 2
            draw.text((self.margin, y), note, fill=ACCENT, font=self.small)

    def ticker(self, image: Image.Image, t: float) -> None:
        """The parts that change every frame: a progress bar and the clip time."""
        draw = ImageDraw.Draw(image)
        draw.rectangle(
            (0, self.height - self.bar_height, round(self.width * t), self.height), fill=ACCENT
        )
        stamp = f"{t * self.duration_s:.1f} s"
        x = self.width - self.margin - int(self.small.getlength(stamp))
        draw.text((x, self.caption_y), stamp, fill=TEXT, font=self.small)


def _ease(t: float) -> float:
    return (1 - math.cos(math.pi * t)) / 2


def _times(frame_count: int) -> Iterator[float]:
    for index in range(frame_count):
        yield index / (frame_count - 1)


def _text_frames(
    layout: _Layout, prompt: str, seed: str, caption: str, note: str
) -> Iterator[Image.Image]:
    backdrop = Image.new("RGB", (layout.width, layout.height), background(seed))
    draw = ImageDraw.Draw(backdrop)
    margin = layout.margin
    draw_label(draw, (margin, margin), layout.small)
    radius = max(8, min(layout.width, layout.height) // 22)
    # The ball travels in a band above the footer; the prompt fills the space above it.
    footer_top = layout.caption_y - (layout.small_size + margin // 2 if note else 0)
    ball_y = footer_top - margin - radius
    top = margin * 2 + layout.small_size
    max_lines = max(1, (ball_y - radius - margin - top) // layout.line_height)
    lines = wrap_text(prompt, layout.body, layout.width - 2 * margin, max_lines)
    for row, line in enumerate(lines):
        draw.text((margin, top + row * layout.line_height), line, fill=TEXT, font=layout.body)
    layout.footer(draw, caption, note)

    travel = layout.width - 2 * (margin + radius)
    for t in _times(layout.frame_count):
        frame = backdrop.copy()
        x = margin + radius + travel * (0.5 - 0.5 * math.cos(2 * math.pi * t))
        y = ball_y - radius * 0.6 * abs(math.sin(3 * math.pi * t))
        ImageDraw.Draw(frame).ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill=ACCENT, outline=TEXT
        )
        layout.ticker(frame, t)
        yield frame


def _load_reference(data: bytes, size: tuple[int, int]) -> Image.Image | None:
    """The reference cropped to the frame's shape, a little larger so zooming stays sharp."""
    work = (round(size[0] * ZOOM), round(size[1] * ZOOM))
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_REFERENCE_PIXELS:
                return None
            opened.draft("RGB", work)
            upright = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return ImageOps.fit(upright, work, Image.Resampling.BILINEAR)


def _overlay(layout: _Layout, prompt: str, caption: str) -> Image.Image:
    overlay = Image.new("RGBA", (layout.width, layout.height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    margin = layout.margin
    draw.rectangle((0, 0, layout.width, margin * 2 + layout.small_size), fill=SHADE)
    draw_label(draw, (margin, margin), layout.small)
    lines = wrap_text(prompt, layout.body, layout.width - 2 * margin, 2)
    top = layout.caption_y - margin // 2 - len(lines) * layout.line_height
    draw.rectangle((0, top - margin // 2, layout.width, layout.height), fill=SHADE)
    for row, line in enumerate(lines):
        draw.text((margin, top + row * layout.line_height), line, fill=TEXT, font=layout.body)
    layout.footer(draw, caption, "")
    return overlay


def _ken_burns_frames(
    layout: _Layout, source: Image.Image, prompt: str, seed: str, caption: str
) -> Iterator[Image.Image]:
    overlay = _overlay(layout, prompt, caption)
    digest = hashlib.sha256(seed.encode()).digest()
    # The pan heads to a seed-chosen corner, so different tasks move differently.
    pan_x = 0.7 if digest[0] % 2 else -0.7
    pan_y = 0.7 if digest[1] % 2 else -0.7
    full_w, full_h = source.size
    for t in _times(layout.frame_count):
        zoom = 1 + (ZOOM - 1) * _ease(t)
        w, h = full_w / zoom, full_h / zoom
        cx = full_w / 2 + pan_x * _ease(t) * (full_w - w) / 2
        cy = full_h / 2 + pan_y * _ease(t) * (full_h - h) / 2
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        frame = source.resize((layout.width, layout.height), Image.Resampling.BILINEAR, box=box)
        frame.paste(overlay, mask=overlay)
        layout.ticker(frame, t)
        yield frame


def _encode(frames: Iterator[Image.Image], size: tuple[int, int]) -> bytes:
    time_base = Fraction(1, FPS)
    with tempfile.TemporaryDirectory(prefix="image2ad-emulator-") as folder:
        path = Path(folder) / "clip.mp4"
        # faststart moves the index to the front in a second pass over the written file,
        # which FFmpeg can only do on a real file, not on a Python file object.
        with av.open(
            str(path), mode="w", format="mp4", container_options={"movflags": "faststart"}
        ) as container:
            stream = container.add_stream(
                "libx264", rate=FPS, options={"preset": "veryfast", "crf": "23"}
            )
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.gop_size = FPS  # a keyframe every second keeps seeking cheap
            for index, image in enumerate(frames):
                frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
                frame.pts = index
                frame.time_base = time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        return path.read_bytes()


def render_video(
    prompt: str,
    aspect_ratio: str,
    *,
    seed: str,
    caption: str,
    reference: bytes | None = None,
    note: str = "",
    duration_s: float = DURATION_S,
) -> bytes:
    """An MP4 of `duration_s` showing the prompt; with a decodable `reference`, a Ken Burns
    move over it."""
    size = frame_size(aspect_ratio, LONG_SIDE)
    layout = _Layout(size, duration_s)
    source = _load_reference(reference, size) if reference is not None else None
    if source is not None:
        return _encode(_ken_burns_frames(layout, source, prompt, seed, caption), size)
    if reference is not None:
        note = UNREADABLE_REFERENCE
    return _encode(_text_frames(layout, prompt, seed, caption, note), size)
