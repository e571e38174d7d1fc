"""The name a result downloads as: what kind it is, what it shows, the day it was made.

`text-to-image-cold-brew-can-on-crushed-ice-2026-11-30.png` instead of the storage key's
`<uuid>-<timestamp>.png`, so a folder of downloads sorts and reads by itself.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import PurePosixPath

SLUG_MAX = 48
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slug(text: str, limit: int = SLUG_MAX) -> str:
    """Lower-case ASCII words joined by dashes, cut at a word boundary within `limit`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [w for w in _NOT_WORD.split(ascii_text.lower()) if w]
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            return out or word[:limit]
        out = candidate
    return out


def download_name(type_: str, prompt: str, created_at: datetime, key: str) -> str:
    extension = PurePosixPath(key).suffix.lower()
    words = slug(prompt) or "untitled"
    return f"{type_}-{words}-{created_at:%Y-%m-%d}{extension}"
