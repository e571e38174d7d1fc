"""Placeholder media: real image files that show the prompt, drawn with Pillow."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageDraw, ImageFont

LABEL = "image2ad emulator — placeholder"
LONG_SIDE = 1024
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def frame_size(aspect_ratio: str, long_side: int = LONG_SIDE) -> tuple[int, int]:
    """Width and height for a "W:H" ratio with the longer side at `long_side` pixels."""
    w, h = (int(part) for part in aspect_ratio.split(":"))
    if w >= h:
        return long_side, round(long_side * h / w)
    return round(long_side * w / h), long_side


def background(seed: str) -> tuple[int, int, int]:
    # A calm colour derived from the seed so different tasks look different.
    digest = hashlib.sha256(seed.encode()).digest()
    return (40 + digest[0] % 80, 40 + digest[1] % 80, 60 + digest[2] % 100)


def wrap_text(text: str, font: Font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap by measured width; over-long words are split, overflow ends in '…'."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= max_width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > max_width:
            cut = max(1, int(len(word) * max_width / font.getlength(word)))
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, len(lines[-1]) - 2)] + " …"
    return lines


def draw_label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], font: Font) -> None:
    # Pillow's bundled font has no em dash glyph, so the dash is drawn as a line.
    left, _, right = LABEL.partition(" — ")
    colour = (255, 210, 90)
    x, y = xy
    draw.text((x, y), left, fill=colour, font=font)
    x += int(font.getlength(left + " "))
    dash = int(font.getlength("M"))
    bbox = font.getbbox("x")
    mid = y + (bbox[1] + bbox[3]) // 2
    draw.line([(x, mid), (x + dash, mid)], fill=colour, width=max(1, dash // 12))
    draw.text((x + dash + int(font.getlength(" ")), y), right, fill=colour, font=font)


def render_image(
    prompt: str,
    aspect_ratio: str,
    *,
    image_format: str = "png",
    seed: str = "",
    caption: str = "",
    long_side: int = LONG_SIDE,
) -> bytes:
    """Encode a PNG or JPEG showing the label, the wrapped prompt and an optional caption."""
    width, height = frame_size(aspect_ratio, long_side)
    image = Image.new("RGB", (width, height), background(seed or prompt))
    draw = ImageDraw.Draw(image)
    margin = max(16, width // 24)
    body_size = max(14, min(width, height) // 22)
    line_height = int(body_size * 1.3)
    small_font = ImageFont.load_default(size=max(12, body_size * 3 // 4))
    body_font = ImageFont.load_default(size=body_size)

    draw_label(draw, (margin, margin), small_font)
    max_lines = max(1, (height - 4 * margin - 2 * body_size) // line_height)
    y = margin * 2 + body_size
    for line in wrap_text(prompt, body_font, width - 2 * margin, max_lines):
        draw.text((margin, y), line, fill=(245, 245, 245), font=body_font)
        y += line_height
    if caption:
        draw.text(
            (margin, height - margin - body_size), caption, fill=(200, 200, 200), font=small_font
        )

    out = io.BytesIO()
    if image_format == "jpeg":
        image.save(out, format="JPEG", quality=85)
    else:
        image.save(out, format="PNG")
    return out.getvalue()
