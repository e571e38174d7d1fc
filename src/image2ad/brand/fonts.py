"""The fonts a brand kit may choose, bundled with their licences in `fonts/`."""

from __future__ import annotations

import threading
from dataclasses import dataclass
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


# FreeType faces are not safe to share between threads, so each painting thread keeps its own.
_faces = threading.local()
FACES_PER_THREAD = 64


def truetype(font_id: str, size: int) -> ImageFont.FreeTypeFont:
    """The font at `size` pixels; kept, since fitting text tries many sizes."""
    cache: dict[tuple[str, int], ImageFont.FreeTypeFont] | None = getattr(_faces, "cache", None)
    if cache is None or len(cache) >= FACES_PER_THREAD:
        cache = _faces.cache = {}
    face = cache.get((font_id, size))
    if face is None:
        face = cache[(font_id, size)] = ImageFont.truetype(str(get(font_id).path), size)
    return face
