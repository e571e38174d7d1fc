"""WCAG 2 contrast: relative luminance, contrast ratio, and the scrim that reaches a target.

A region's worst case is bounded with its per-channel extremes: luminance rises with each
channel, so no pixel is brighter than (max R, max G, max B) nor darker than the minimums. The
bound is cheap (Pillow's `getextrema`) and can only overstate the risk, never hide it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

RGB = tuple[int, int, int]
WCAG_AA = 4.5
WHITE: RGB = (255, 255, 255)
INK: RGB = (17, 17, 17)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: RGB) -> float:
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: RGB, b: RGB) -> float:
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


@dataclass(frozen=True)
class Extremes:
    """The brightest and darkest colour a region can hold (per-channel bounds)."""

    lightest: RGB
    darkest: RGB

    def worst_ratio(self, text: RGB) -> float:
        return min(ratio(text, self.lightest), ratio(text, self.darkest))


def extremes(region: Image.Image) -> Extremes:
    lows: list[int] = []
    highs: list[int] = []
    for band in region.convert("RGB").split():
        low, high = band.getextrema()
        assert isinstance(low, (int, float)) and isinstance(high, (int, float))
        lows.append(int(low))
        highs.append(int(high))
    return Extremes(lightest=(highs[0], highs[1], highs[2]), darkest=(lows[0], lows[1], lows[2]))


def blend(colour: RGB, toward: RGB, alpha: float) -> RGB:
    """`colour` under a layer of `toward` at `alpha`, as Pillow composites it (rounded)."""
    a = round(alpha * 255) / 255
    return (
        round(toward[0] * a + colour[0] * (1 - a)),
        round(toward[1] * a + colour[1] * (1 - a)),
        round(toward[2] * a + colour[2] * (1 - a)),
    )


@dataclass(frozen=True)
class TextStyle:
    """The text colour for a region and the scrim (colour, opacity 0 to 1) under it, if any."""

    text: RGB
    scrim: RGB | None
    scrim_alpha: float
    contrast: float


def _scrim_alpha(region: Extremes, text: RGB, scrim: RGB, target: float) -> float | None:
    """The least opacity (in 1/255 steps) at which a `scrim` layer lifts the region to `target`
    against `text`; None if even an opaque one cannot."""
    for step in range(256):
        alpha = step / 255
        covered = Extremes(
            blend(region.lightest, scrim, alpha), blend(region.darkest, scrim, alpha)
        )
        if covered.worst_ratio(text) >= target:
            return alpha
    return None


def text_style(region: Extremes, target: float = WCAG_AA) -> TextStyle:
    """White or ink text, whichever reads best; under it the lightest scrim that makes the
    worst pixel of the region reach `target`."""
    best = max((WHITE, INK), key=region.worst_ratio)
    if region.worst_ratio(best) >= target:
        return TextStyle(best, None, 0.0, region.worst_ratio(best))
    options = []
    for text, scrim in ((WHITE, (0, 0, 0)), (INK, WHITE)):
        alpha = _scrim_alpha(region, text, scrim, target)
        if alpha is not None:
            options.append((alpha, text, scrim))
    alpha, text, scrim = min(options)
    covered = Extremes(blend(region.lightest, scrim, alpha), blend(region.darkest, scrim, alpha))
    return TextStyle(text, scrim, alpha, covered.worst_ratio(text))


def readable_on(background: RGB) -> RGB:
    """White or ink text for a solid background: one of them always reaches 4.5:1."""
    return max((WHITE, INK), key=lambda text: ratio(text, background))
