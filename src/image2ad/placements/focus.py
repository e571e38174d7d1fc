"""Where to cut: the crop window along one axis that holds the most visual interest.

Interest is edge energy (Pillow's FIND_EDGES) on a small grey copy, summed across the axis that
is kept whole; the window with the largest sum wins, the most central one among equals. A flat
image (little energy anywhere) is cut in the middle.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter

ANALYSIS_SIDE = 256
# Mean edge strength (0-255) under which an image counts as flat: compression noise, gradients.
FLAT_ENERGY = 2.0


def focus_box(image: Image.Image, width: int, height: int) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box of width x height inside `image` to keep."""
    full_w, full_h = image.size
    if (width, height) == (full_w, full_h):
        return 0, 0, full_w, full_h
    cut_width = width < full_w
    slack = (full_w - width) if cut_width else (full_h - height)
    offset = _interest_offset(image, width, height, cut_width, slack)
    if cut_width:
        return offset, 0, offset + width, height
    return 0, offset, width, offset + height


def _interest_offset(
    image: Image.Image, width: int, height: int, cut_width: bool, slack: int
) -> int:
    center = slack // 2
    edges = _edges(image)
    small_w, small_h = edges.size
    data = edges.tobytes()  # one byte per pixel in mode L
    if sum(data) < FLAT_ENERGY * small_w * small_h:
        return center
    if cut_width:
        profile = [sum(data[x::small_w]) for x in range(small_w)]
        window = max(1, round(width * small_w / image.width))
    else:
        profile = [sum(data[y * small_w : (y + 1) * small_w]) for y in range(small_h)]
        window = max(1, round(height * small_h / image.height))
    positions = len(profile) - window
    if positions <= 0:
        return center
    best = _best_window(profile, window)
    return min(slack, max(0, round(best * slack / positions)))


def _best_window(profile: list[int], window: int) -> int:
    """Start of the window with the largest sum; the most central one among equals."""
    middle = (len(profile) - window) / 2
    score = sum(profile[:window])
    best, best_key = 0, (score, -middle)
    for start in range(1, len(profile) - window + 1):
        score += profile[start + window - 1] - profile[start - 1]
        key = (score, -abs(start - middle))
        if key > best_key:
            best, best_key = start, key
    return best


def _edges(image: Image.Image) -> Image.Image:
    scale = ANALYSIS_SIDE / max(image.size)
    size = (max(3, round(image.width * scale)), max(3, round(image.height * scale)))
    source = image if image.mode in ("L", "RGB", "RGBA", "LA") else image.convert("RGBA")
    edges = source.resize(size, Image.Resampling.BOX).convert("L").filter(ImageFilter.FIND_EDGES)
    # The filter copies the outermost pixels unfiltered: they are not edges.
    ImageDraw.Draw(edges).rectangle((0, 0, size[0] - 1, size[1] - 1), outline=0)
    return edges
