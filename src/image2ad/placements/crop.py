"""Crop a result file to a placement's exact ratio: images toward their subject, videos re-encoded.

Both work file to file, so a large video is never held in memory.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.filter
from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin

from image2ad.placements import Placement
from image2ad.placements.focus import focus_box

# Results are a few thousand pixels a side; this bounds one decode (~160 MB as RGBA).
MAX_PIXELS = 40_000_000
JPEG_QUALITY = 95
WEBP_QUALITY = 95
VIDEO_CRF = "18"
ORIENTATION = 0x0112


class CropFailed(Exception):
    """The file cannot be decoded or cut to the ratio; trying again will not help."""


@dataclass(frozen=True)
class Cropped:
    width: int
    height: int
    # False when the source already had the ratio and nothing was written.
    written: bool = True


def crop_file(source: str, target: str, placement: Placement, result_type: str) -> Cropped:
    """Write `source` cut to the placement's ratio to `target`, unless it already has it."""
    if result_type == "video":
        return crop_video(source, target, placement)
    return crop_image(source, target, placement)


# --- images ----------------------------------------------------------------------------------


def crop_image(source: str, target: str, placement: Placement) -> Cropped:
    try:
        with Image.open(source, formats=["PNG", "JPEG", "WEBP"]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise CropFailed(f"the image is {image.width} x {image.height} pixels")
            fmt = image.format or ""
            turned = _orientation(image) not in (0, 1)
            width, height = (image.height, image.width) if _quarter_turn(image) else image.size
            if placement.matches(width, height):
                return Cropped(width, height, written=False)
            image.load()
            upright = ImageOps.exif_transpose(image) if turned else image
            options = _save_options(image, fmt, source)
            exif = upright.getexif()  # without the orientation once turned upright
            if exif:
                options["exif"] = exif.tobytes()
            cut = upright.crop(focus_box(upright, *placement.size_within(width, height)))
    except CropFailed:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise CropFailed(f"the image cannot be read: {exc}") from exc
    cut.save(target, fmt, **options)
    return Cropped(cut.width, cut.height)


def _orientation(image: Image.Image) -> int:
    """EXIF orientation of a JPEG or WebP (read from the header, as the download reads it)."""
    if image.format not in ("JPEG", "WEBP"):
        return 1
    return int(image.getexif().get(ORIENTATION, 1))


def _quarter_turn(image: Image.Image) -> bool:
    """Whether the EXIF orientation shows the image turned by 90 degrees (viewers apply it,
    so the ratio that counts is the one shown)."""
    return _orientation(image) in (5, 6, 7, 8)


def _save_options(image: Image.Image, fmt: str, source: str) -> dict[str, Any]:
    """What the saved crop keeps of the original besides EXIF: colour profile, density,
    transparency, text chunks, and JPEG chroma subsampling."""
    info = image.info
    options: dict[str, Any] = {}
    if info.get("icc_profile"):
        options["icc_profile"] = info["icc_profile"]
    if "dpi" in info:
        options["dpi"] = info["dpi"]
    if fmt == "JPEG":
        sampling = JpegImagePlugin.get_sampling(image)
        options |= {"quality": JPEG_QUALITY, **({"subsampling": sampling} if sampling >= 0 else {})}
    elif fmt == "PNG":
        if "transparency" in info:
            options["transparency"] = info["transparency"]
        text = getattr(image, "text", {})
        if text:
            chunks = PngImagePlugin.PngInfo()
            for name, value in text.items():
                chunks.add_itxt(name, value)
            options["pnginfo"] = chunks
    elif fmt == "WEBP":
        lossless = _webp_lossless(source)
        options |= {"lossless": True} if lossless else {"quality": WEBP_QUALITY}
    return options


def _webp_lossless(path: str) -> bool:
    """Whether a WebP file's image data is lossless (a VP8L chunk rather than VP8)."""
    with open(path, "rb") as file:
        file.seek(12)
        while header := file.read(8):
            if len(header) < 8:
                return False
            fourcc, size = header[:4], struct.unpack("<I", header[4:])[0]
            if fourcc in (b"VP8 ", b"VP8L"):
                return fourcc == b"VP8L"
            file.seek(size + (size & 1), 1)
    return False


# --- videos ----------------------------------------------------------------------------------


def even_size_within(placement: Placement, width: int, height: int) -> tuple[int, int] | None:
    """The largest even-sided size within width x height that `Placement.matches`.

    yuv420p needs even sides, and rounding the exact crop (`size_within`) to even numbers can
    break the ratio (1280 x 720 to 9:16 gives 405 x 720; 404 and 406 are each more than half a
    pixel off), so a pixel or two of the longer side may go as well (404 x 718). None when no
    such size fits (a frame under 4 px on a side): such a video cannot be made to the ratio.
    """
    best: tuple[int, int] | None = None
    for h in range(height - height % 2, 1, -2):
        if best is not None and (h * placement.ratio + 2) * h < best[0] * best[1]:
            break
        low = int(h * placement.ratio) // 2 * 2
        for w in (low, low + 2):
            fits = 2 <= w <= width and placement.matches(w, h)
            if fits and (best is None or w * h > best[0] * best[1]):
                best = (w, h)
    return best


def crop_video(source: str, target: str, placement: Placement) -> Cropped:
    """Re-encode as H.264 cut to the ratio, around the centre; frame timestamps (so frame rate
    and duration) are kept and the audio packets are copied as they are."""
    try:
        with av.open(source) as container:
            if not container.streams.video:
                raise CropFailed("the file has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if placement.matches(width, height):
                return Cropped(width, height, written=False)
            size = even_size_within(placement, width, height)
            if size is None:
                raise CropFailed(f"a {width} x {height} video is too small to crop")
            box = _even_center(size, width, height)
            _reencode(container, target, box)
    except av.error.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise  # the disk or the system, not the file: worth another try
        raise CropFailed(f"the video cannot be cropped: {exc}") from exc
    return Cropped(*size)


def _even_center(size: tuple[int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a centred crop; even offsets keep the chroma planes aligned."""
    w, h = size
    x = (width - w) // 2 // 2 * 2
    y = (height - h) // 2 // 2 * 2
    return x, y, w, h


def _reencode(container: Any, target: str, box: tuple[int, int, int, int]) -> None:
    x, y, w, h = box
    video = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    rate: Fraction | None = video.average_rate or video.guessed_rate
    with av.open(
        target, mode="w", format="mp4", container_options={"movflags": "faststart"}
    ) as out:
        encoder = out.add_stream(
            "libx264", rate=rate, options={"preset": "veryfast", "crf": VIDEO_CRF}
        )
        encoder.width, encoder.height, encoder.pix_fmt = w, h, "yuv420p"
        encoder.time_base = video.time_base
        copied = out.add_stream_from_template(audio) if audio is not None else None
        graph = _crop_graph(video, x, y, w, h)

        def encode_ready() -> None:
            while True:
                try:
                    frame = graph.vpull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                out.mux(encoder.encode(frame))

        for packet in container.demux(*[s for s in (video, audio) if s is not None]):
            if packet.stream is video:
                for frame in packet.decode():
                    graph.vpush(frame)
                    encode_ready()
            elif packet.dts is not None:  # the demuxer's empty flush packet has none
                packet.stream = copied
                out.mux(packet)
        graph.vpush(None)
        encode_ready()
        out.mux(encoder.encode())


def _crop_graph(video: Any, x: int, y: int, w: int, h: int) -> av.filter.Graph:
    graph = av.filter.Graph()
    chain = [
        graph.add_buffer(template=video),
        graph.add("crop", f"{w}:{h}:{x}:{y}"),
        graph.add("format", "yuv420p"),
        graph.add("buffersink"),
    ]
    for upstream, downstream in itertools.pairwise(chain):
        upstream.link_to(downstream)
    graph.configure()
    return graph
