"""The fonts a brand kit may choose, bundled with their licences in `fonts/`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path(__file__).parent / "fonts"


@dataclass(frozen=True)
class Font:
    id: str
    label: str
    file: str
    licence: str

    @property
    def path(self) -> Path:
        return FONT_DIR / self.file


FONTS: dict[str, Font] = {
    f.id: f
    for f in (
        Font("lato", "Lato Bold", "Lato-Bold.ttf", "SIL Open Font License 1.1"),
        Font("open-sans", "Open Sans Bold", "OpenSans-Bold.ttf", "Apache License 2.0"),
        Font("noto-serif", "Noto Serif Bold", "NotoSerif-Bold.ttf", "SIL Open Font License 1.1"),
    )
}
DEFAULT_FONT = "lato"


def get(font_id: str | None) -> Font:
    return FONTS.get(font_id or DEFAULT_FONT, FONTS[DEFAULT_FONT])


@lru_cache(maxsize=256)
def truetype(font_id: str, size: int) -> ImageFont.FreeTypeFont:
    """The font at `size` pixels; cached, since fitting text tries many sizes."""
    return ImageFont.truetype(str(get(font_id).path), size)
