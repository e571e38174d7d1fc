"""Painting the brand layer on an image with Pillow: logo, headline (on a scrim when the
background needs one for 4.5:1 contrast) and the call to action as a rounded button."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from image2ad.brand import contrast, fonts
from image2ad.brand.layout import Box, Layout, TextBlock, plan
from image2ad.placements import Placement

DEFAULT_COLOUR = "#4F46E5"
JPEG_QUALITY = 92


@dataclass(frozen=True)
class BrandLayer:
    headline: str | None
    cta: str | None
    font_id: str
    colour: str  # the button's fill, "#RRGGBB"
    logo: Image.Image | None


@dataclass(frozen=True)
class Composed:
    image: Image.Image
    layout: Layout
    headline_style: contrast.TextStyle | None
    cta_text: contrast.RGB | None


def hex_rgb(value: str) -> contrast.RGB:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def compose(source: Image.Image, placement: Placement, layer: BrandLayer) -> Composed:
    """The source with the brand layer on it, same size; the source itself is not changed."""
    canvas = source.convert("RGBA")
    layout = plan(
        canvas.width,
        canvas.height,
        placement,
        font_id=layer.font_id,
        headline=layer.headline,
        cta=layer.cta,
        logo_size=layer.logo.size if layer.logo else None,
    )
    if layer.logo and layout.logo:
        _paste_logo(canvas, layer.logo, layout.logo)
    style = None
    if layout.headline:
        style = _headline(canvas, layout.headline, layout.padding, layer.font_id)
    cta_text = None
    if layout.cta:
        fill = hex_rgb(layer.colour)
        cta_text = contrast.readable_on(fill)
        draw = ImageDraw.Draw(canvas)
        box = layout.cta.box
        draw.rounded_rectangle(
            (box.left, box.top, box.right - 1, box.bottom - 1), layout.cta.radius, fill=fill
        )
        _write(draw, layout.cta.label, layer.font_id, cta_text)
    has_alpha = source.mode in ("RGBA", "LA", "PA") or "transparency" in source.info
    return Composed(canvas if has_alpha else canvas.convert("RGB"), layout, style, cta_text)


def _paste_logo(canvas: Image.Image, logo: Image.Image, box: Box) -> None:
    scaled = logo.convert("RGBA").resize((box.width, box.height), Image.Resampling.LANCZOS)
    # Composited through its own alpha: a transparent logo shows the image through.
    canvas.alpha_composite(scaled, (box.left, box.top))


def _headline(
    canvas: Image.Image, block: TextBlock, padding: int, font_id: str
) -> contrast.TextStyle:
    panel = block.box.grow(padding)
    area = (panel.left, panel.top, panel.right, panel.bottom)
    under = canvas.crop(area)
    style = contrast.text_style(contrast.extremes(under))
    if style.scrim is not None:
        radius = max(2, padding)
        alpha = round(style.scrim_alpha * 255)
        # Only the panel is composited (a whole large result, copied per try, would not be).
        text_area = (padding, padding, padding + block.box.width, padding + block.box.height)
        # Pillow's compositing rounds once more than `contrast.blend` models: measure what was
        # painted and darken (or lighten) a step further until the worst pixel passes.
        while True:
            overlay = Image.new("RGBA", under.size, (0, 0, 0, 0))
            ImageDraw.Draw(overlay).rounded_rectangle(
                (0, 0, under.width - 1, under.height - 1), radius, fill=(*style.scrim, alpha)
            )
            painted = Image.alpha_composite(under, overlay)
            measured = contrast.extremes(painted.crop(text_area)).worst_ratio(style.text)
            if measured >= contrast.WCAG_AA or alpha >= 255:
                break
            alpha += 1
        canvas.paste(painted, (panel.left, panel.top))
        style = contrast.TextStyle(style.text, style.scrim, alpha / 255, measured)
    _write(ImageDraw.Draw(canvas), block, font_id, style.text)
    return style


def _write(draw: ImageDraw.ImageDraw, block: TextBlock, font_id: str, colour: contrast.RGB) -> None:
    font = fonts.truetype(font_id, block.size)
    for line in block.lines:
        draw.text((line.x, line.baseline), line.text, font=font, fill=colour, anchor="ls")


def encode(image: Image.Image, source_format: str | None) -> tuple[bytes, str, str]:
    """The rendition's bytes, content type and extension: JPEG for a JPEG source, else PNG."""
    out = io.BytesIO()
    if source_format == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        return out.getvalue(), "image/jpeg", "jpg"
    image.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue(), "image/png", "png"
