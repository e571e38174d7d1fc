"""Ad placements: the exact pixel ratio each one needs and where text may safely go.

Safe zones are the parts of the frame a platform's own buttons, captions and profile bar cover.
Sources (checked 2026-11): Meta's Stories and Reels ad specs ("leave roughly 14% of the top and
20% of the bottom free of text and logos" for Stories; Reels keeps the bottom 35% clear for the
caption and CTA, and about 6% on each side); Meta's and LinkedIn's feed and link-ad specs (no
overlay, so a plain 5% margin keeps text off the crop edge). `story` serves Stories and Reels,
so it takes the stricter of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from image2ad.errors import InvalidInput


@dataclass(frozen=True)
class SafeZone:
    """Fractions of the frame kept free of text and logos, per edge."""

    top: float
    right: float
    bottom: float
    left: float


@dataclass(frozen=True)
class Placement:
    id: str
    label: str
    # The exact ratio as width:height in whole numbers (1.91:1 is 191:100).
    ratio_w: int
    ratio_h: int
    safe_zone: SafeZone
    # Where it runs, for the UI.
    used_for: str

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.ratio_w, self.ratio_h)

    @property
    def ratio_label(self) -> str:
        return "1.91:1" if self.id == "link" else f"{self.ratio_w}:{self.ratio_h}"

    def size_within(self, width: int, height: int) -> tuple[int, int]:
        """The largest size of this ratio that fits in width x height: the full height or the
        full width, the other side the nearest whole pixel (Meta's 1200 x 628 for 1.91:1)."""
        if width * self.ratio_h >= height * self.ratio_w:
            return max(1, min(width, round(height * self.ratio))), height
        return width, max(1, min(height, round(width / self.ratio)))

    def matches(self, width: int, height: int) -> bool:
        """Whether width x height is this ratio to the nearest whole pixel on either side."""
        return abs(width - height * self.ratio) <= Fraction(1, 2) or abs(
            height - width / self.ratio
        ) <= Fraction(1, 2)


_MARGIN = SafeZone(0.05, 0.05, 0.05, 0.05)

PLACEMENTS: dict[str, Placement] = {
    p.id: p
    for p in (
        Placement("feed", "Feed", 1, 1, _MARGIN, "Instagram and Facebook feed"),
        Placement("portrait", "Portrait", 4, 5, _MARGIN, "Instagram and Facebook feed, tall"),
        Placement(
            "story",
            "Story / Reel",
            9,
            16,
            SafeZone(top=0.14, right=0.06, bottom=0.35, left=0.06),
            "Stories, Reels, TikTok, Shorts",
        ),
        Placement("landscape", "Landscape", 16, 9, _MARGIN, "YouTube, in-stream, display"),
        Placement("link", "Link", 191, 100, _MARGIN, "Facebook and LinkedIn link ads"),
    )
}


def get(placement_id: str, *, field: str = "placements") -> Placement:
    try:
        return PLACEMENTS[placement_id]
    except KeyError:
        known = ", ".join(PLACEMENTS)
        raise InvalidInput(
            f"Unknown placement {placement_id!r}; use one of: {known}.", field=field
        ) from None


def ratio_of(label: str) -> Fraction | None:
    """A model's aspect-ratio choice ("16:9") as a fraction; None for "auto" and the like."""
    w, sep, h = label.partition(":")
    if not sep:
        return None
    try:
        return Fraction(Fraction(w), Fraction(h))
    except (ValueError, ZeroDivisionError):
        return None


def nearest_ratios(placement: Placement, choices: list[str]) -> list[str]:
    """The model's ratio choices ordered by how little of the frame a crop to the placement
    loses (the first needs the smallest crop); choices that are not ratios are left out."""

    def kept(choice: str) -> float:
        r = ratio_of(choice)
        assert r is not None
        return float(min(r, placement.ratio) / max(r, placement.ratio))

    ratios = [c for c in choices if ratio_of(c) is not None]
    return sorted(ratios, key=kept, reverse=True)
