"""Where the brand layer goes: logo, headline and call to action inside a placement's safe zone.

Pure geometry measured with the font's real metrics: `plan` returns every box it will draw, so
tests can check that nothing leaves the safe zone. Text is never cut: the headline shrinks
(down to a floor) until it fits in a few lines, and at the floor it wraps onto as many lines as
the space holds; a headline that fits nowhere is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import ImageFont

from image2ad.brand import fonts
from image2ad.errors import InvalidInput
from image2ad.placements import Placement

# Fractions of the image's short side.
LOGO_SIDE = 0.15
HEADLINE_START = 0.095
HEADLINE_FLOOR = 0.032
CTA_START = 0.045
CTA_FLOOR = 0.026
PADDING = 0.025
GAP = 0.03
# Below this many pixels text stops being legible at all.
MIN_TEXT_PX = 10
HEADLINE_LINES = 3
CTA_LINES = 2
LOGO_MAX_WIDTH = 0.4  # of the safe width: a wide wordmark stays a corner mark
LOGO_MAX_HEIGHT = 0.2  # of the short side


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def inset(self, by: int) -> Box:
        return Box(self.left + by, self.top + by, self.right - by, self.bottom - by)

    def grow(self, by: int) -> Box:
        return self.inset(-by)

    def contains(self, other: Box) -> bool:
        return (
            self.left <= other.left
            and self.top <= other.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def union(self, other: Box) -> Box:
        return Box(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )


@dataclass(frozen=True)
class Line:
    text: str
    x: int
    baseline: int
    box: Box  # the line's ink and its font's ascent and descent, whichever is larger


@dataclass(frozen=True)
class TextBlock:
    lines: list[Line]
    size: int

    @property
    def box(self) -> Box:
        box = self.lines[0].box
        for line in self.lines[1:]:
            box = box.union(line.box)
        return box


@dataclass(frozen=True)
class Button:
    box: Box
    radius: int
    label: TextBlock


@dataclass(frozen=True)
class Layout:
    safe: Box
    padding: int
    logo: Box | None
    headline: TextBlock | None
    cta: Button | None

    def drawn_boxes(self) -> dict[str, Box]:
        """Everything the compositor paints, by name (the headline's scrim pads its text)."""
        boxes: dict[str, Box] = {}
        if self.logo:
            boxes["logo"] = self.logo
        if self.headline:
            boxes["headline"] = self.headline.box
            boxes["headline_scrim"] = self.headline.box.grow(self.padding)
            for n, line in enumerate(self.headline.lines):
                boxes[f"headline_line_{n}"] = line.box
        if self.cta:
            boxes["cta"] = self.cta.box
            boxes["cta_label"] = self.cta.label.box
        return boxes


def safe_box(width: int, height: int, placement: Placement) -> Box:
    zone = placement.safe_zone
    return Box(
        round(width * zone.left),
        round(height * zone.top),
        width - round(width * zone.right),
        height - round(height * zone.bottom),
    )


def _split_long(word: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """A word wider than the line, in pieces that each fit (there is nowhere else to put it)."""
    pieces, piece = [], ""
    for char in word:
        if piece and _width(font, piece + char) > max_width:
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece] if piece else pieces


def _width(font: ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text, anchor="ls")
    return int(max(right, font.getlength(text)) - min(0, left))


def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Greedy word wrap by measured width; a word wider than the line is broken."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if _width(font, candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if _width(font, word) <= max_width:
            current = word
        else:
            *whole, current = _split_long(word, font, max_width)
            lines.extend(whole)
    if current:
        lines.append(current)
    return lines


def _set_lines(
    lines: list[str], font: ImageFont.FreeTypeFont, left: int, top: int, size: int
) -> TextBlock:
    ascent, descent = font.getmetrics()
    placed = []
    baseline = top + ascent
    for text in lines:
        ink_left, ink_top, ink_right, ink_bottom = font.getbbox(text, anchor="ls")
        x = left - min(0, int(ink_left))
        box = Box(
            x + min(0, int(ink_left)),
            baseline - max(ascent, -int(ink_top)),
            x + max(int(ink_right), int(font.getlength(text))),
            baseline + max(descent, int(ink_bottom)),
        )
        placed.append(Line(text, x, baseline, box))
        baseline += ascent + descent
    return TextBlock(placed, size)


def fit_text(
    text: str,
    font_id: str,
    *,
    max_width: int,
    max_height: int,
    start: int,
    floor: int,
    max_lines: int,
) -> TextBlock | None:
    """The largest size from `start` down to `floor` at which the text fits in `max_lines`
    lines; at the floor as many lines as the height holds. None when it cannot fit."""
    size = start
    while True:
        font = fonts.truetype(font_id, size)
        lines = wrap(text, font, max_width)
        ascent, descent = font.getmetrics()
        height = (ascent + descent) * len(lines)
        at_floor = size <= floor
        if height <= max_height and (len(lines) <= max_lines or at_floor):
            block = _set_lines(lines, font, 0, 0, size)
            if block.box.width <= max_width and block.box.height <= max_height:
                return block
        if at_floor:
            return None
        size = max(floor, min(size - 1, int(size * 0.92)))


def _moved(block: TextBlock, dx: int, dy: int) -> TextBlock:
    return TextBlock(
        [
            Line(
                line.text,
                line.x + dx,
                line.baseline + dy,
                Box(
                    line.box.left + dx, line.box.top + dy, line.box.right + dx, line.box.bottom + dy
                ),
            )
            for line in block.lines
        ],
        block.size,
    )


def _logo_box(area: Box, short: int, logo_size: tuple[int, int]) -> Box:
    """The logo's corner box: the same area whatever its shape, so a wide wordmark is not
    shrunk to a sliver, capped in width and height."""
    logo_w, logo_h = logo_size
    side = short * LOGO_SIDE
    scale = min(
        side / math.sqrt(logo_w * logo_h),
        area.width * LOGO_MAX_WIDTH / logo_w,
        short * LOGO_MAX_HEIGHT / logo_h,
    )
    width, height = max(1, round(logo_w * scale)), max(1, round(logo_h * scale))
    return Box(area.left, area.top, area.left + width, area.top + height)


def plan(
    width: int,
    height: int,
    placement: Placement,
    *,
    font_id: str,
    headline: str | None,
    cta: str | None,
    logo_size: tuple[int, int] | None,
) -> Layout:
    """Lay the brand layer out on a width x height image: the logo in the safe zone's top-left
    corner, the call to action as a button at its bottom-left, the headline just above it."""
    safe = safe_box(width, height, placement)
    short = min(width, height)
    padding = max(2, round(short * PADDING))
    gap = max(2, round(short * GAP))
    # The headline's scrim reaches `padding` beyond its text, and must stay in the safe zone.
    area = safe.inset(padding)
    if area.width < MIN_TEXT_PX * 2 or area.height < MIN_TEXT_PX * 2:
        raise InvalidInput("This image is too small for a brand layer.", field="placement")
    logo = _logo_box(area, short, logo_size) if logo_size else None
    bottom = area.bottom

    button = None
    if cta:
        button = _button(cta, font_id, area, short)
        bottom = button.box.top - gap

    block = None
    if headline:
        top = logo.bottom + gap if logo else area.top
        block = fit_text(
            headline,
            font_id,
            max_width=area.width,
            max_height=bottom - top,
            start=max(MIN_TEXT_PX, round(short * HEADLINE_START)),
            floor=max(MIN_TEXT_PX, round(short * HEADLINE_FLOOR)),
            max_lines=HEADLINE_LINES,
        )
        if block is None:
            raise InvalidInput(
                "The headline does not fit on this image even at the smallest size; shorten it.",
                field="headline",
            )
        block = _moved(block, area.left, bottom - block.box.bottom)
    return Layout(safe=safe, padding=padding, logo=logo, headline=block, cta=button)


def _button(text: str, font_id: str, area: Box, short: int) -> Button:
    start = max(MIN_TEXT_PX, round(short * CTA_START))
    floor = max(MIN_TEXT_PX, round(short * CTA_FLOOR))
    pad_x, pad_y = round(start * 0.9), round(start * 0.45)
    label = fit_text(
        text,
        font_id,
        max_width=area.width - 2 * pad_x,
        max_height=area.height // 3 - 2 * pad_y,
        start=start,
        floor=floor,
        max_lines=CTA_LINES,
    )
    if label is None:
        raise InvalidInput(
            "The call to action does not fit on this image; shorten it.", field="cta"
        )
    inner = label.box
    box = Box(
        area.left,
        area.bottom - inner.height - 2 * pad_y,
        area.left + inner.width + 2 * pad_x,
        area.bottom,
    )
    label = _centered(label, box)
    return Button(box=box, radius=min(box.height // 2, round(start * 0.6)), label=label)


def _centered(block: TextBlock, box: Box) -> TextBlock:
    """The block's lines, each centered in `box` horizontally, the block centered vertically."""
    ink = block.box
    dy = box.top + (box.height - ink.height) // 2 - ink.top
    lines = []
    for line in block.lines:
        dx = box.left + (box.width - line.box.width) // 2 - line.box.left
        lines.append(
            Line(
                line.text,
                line.x + dx,
                line.baseline + dy,
                Box(
                    line.box.left + dx,
                    line.box.top + dy,
                    line.box.right + dx,
                    line.box.bottom + dy,
                ),
            )
        )
    return TextBlock(lines, block.size)
