"""What a stored video is: size, duration, and a poster frame for the Library."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
from PIL import Image

POSTER_MAX_SIDE = 1280


class NotAVideo(Exception):
    """The file is not a playable video."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration_s: float | None
    poster_jpeg: bytes


def is_mp4(head: bytes) -> bool:
    return len(head) >= 12 and head[4:8] == b"ftyp"


def probe_video(path: str) -> VideoInfo:
    """Read the first video stream's geometry and duration and render its first frame."""
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise NotAVideo("no video stream")
            stream = container.streams.video[0]
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            first = next(container.decode(stream), None)
            if first is None:
                raise NotAVideo("no decodable frame")
            poster: Image.Image = first.to_image()  # type: ignore[no-untyped-call]
            width, height = stream.codec_context.width, stream.codec_context.height
    except av.error.FFmpegError as exc:
        raise NotAVideo(str(exc)) from exc
    poster.thumbnail((POSTER_MAX_SIDE, POSTER_MAX_SIDE))
    out = io.BytesIO()
    poster.convert("RGB").save(out, "JPEG", quality=85)
    return VideoInfo(width, height, round(duration, 3) if duration else None, out.getvalue())
