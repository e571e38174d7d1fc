"""The brand layer's layout, contrast and compositing, without a server."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw

from image2ad.brand import contrast, layout
from image2ad.brand.compose import BrandLayer, compose, encode
from image2ad.brand.fonts import FONTS
from image2ad.brand.service import nearest_placement
from image2ad.errors import InvalidInput
from image2ad.placements import PLACEMENTS, Placement

LONG_HEADLINE = (
    "Summer sale on every linen shirt, every pair of shorts and every straw hat in the shop: "
    "half price this weekend only, with free delivery on all orders over forty euros and more"
)
CTA = "Shop the summer sale now"


def size_of(placement: Placement, width: int = 1080) -> tuple[int, int]:
    return width, round(width * placement.ratio_h / placement.ratio_w)


def noise(size: tuple[int, int], seed: int = 7) -> Image.Image:
    """Blocks of random colours: every kind of pixel under the text."""
    rng = random.Random(seed)
    small = Image.new("RGB", (size[0] // 6 + 1, size[1] // 6 + 1))
    small.putdata(
        [
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            for _ in range(small.width * small.height)
        ]
    )
    return small.resize(size, Image.Resampling.NEAREST)


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance, written out here independently of the module under test."""
    channels = []
    for value in rgb:
        c = value / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def worst_contrast(text: tuple[int, int, int], region: Image.Image) -> float:
    worst = 21.0
    lt = luminance(text)
    for colour in set(region.convert("RGB").get_flattened_data()):
        lb = luminance(colour)
        worst = min(worst, (max(lt, lb) + 0.05) / (min(lt, lb) + 0.05))
    return worst


def test_contrast_ratio_matches_wcag_examples() -> None:
    assert contrast.ratio((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)
    assert contrast.ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    # #777777 on white is the classic just-failing grey (4.48:1); #767676 just passes.
    assert contrast.ratio((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert contrast.ratio((0x76, 0x76, 0x76), (255, 255, 255)) >= 4.5
    assert contrast.ratio((10, 20, 30), (10, 20, 30)) == pytest.approx(1.0)


@pytest.mark.parametrize("placement", list(PLACEMENTS.values()), ids=list(PLACEMENTS))
@pytest.mark.parametrize("font_id", list(FONTS))
def test_a_long_headline_fits_wrapped_inside_the_safe_zone(
    placement: Placement, font_id: str
) -> None:
    width, height = size_of(placement)
    plan = layout.plan(
        width,
        height,
        placement,
        font_id=font_id,
        headline=LONG_HEADLINE,
        cta=CTA,
        logo_size=(400, 200),
    )
    safe = layout.safe_box(width, height, placement)
    assert plan.safe == safe
    boxes = plan.drawn_boxes()
    assert {"logo", "headline", "headline_scrim", "cta", "cta_label"} <= boxes.keys()
    for name, box in boxes.items():
        assert safe.contains(box), f"{name} {box} leaves the safe zone {safe}"
    assert plan.headline is not None and plan.cta is not None and plan.logo is not None
    # Wrapped, every word kept, in order, and shrunk from the starting size but not below
    # the floor.
    lines = [line.text for line in plan.headline.lines]
    assert len(lines) > 1
    assert " ".join(lines) == LONG_HEADLINE
    short = min(width, height)
    assert round(short * layout.HEADLINE_FLOOR) <= plan.headline.size
    assert plan.headline.size < round(short * layout.HEADLINE_START)
    # The pieces do not overlap one another.
    assert plan.logo.bottom <= plan.headline.box.top
    assert plan.headline.box.bottom <= plan.cta.box.top
    # The button's label is centered in it.
    label, button = plan.cta.label.box, plan.cta.box
    assert button.contains(label)
    assert abs((label.left + label.right) - (button.left + button.right)) <= 2
    assert abs((label.top + label.bottom) - (button.top + button.bottom)) <= 2


def test_a_short_headline_keeps_the_large_size() -> None:
    feed = PLACEMENTS["feed"]
    plan = layout.plan(1080, 1080, feed, font_id="lato", headline="Sale", cta=None, logo_size=None)
    assert plan.headline is not None
    assert plan.headline.size == round(1080 * layout.HEADLINE_START)
    assert [line.text for line in plan.headline.lines] == ["Sale"]


def test_a_word_wider_than_the_line_is_broken_not_cut() -> None:
    story = PLACEMENTS["story"]
    word = "Supercalifragilisticexpialidocious" * 3
    plan = layout.plan(
        540, 960, story, font_id="open-sans", headline=word, cta=None, logo_size=None
    )
    assert plan.headline is not None
    lines = [line.text for line in plan.headline.lines]
    assert len(lines) > 1 and "".join(lines) == word
    for line in plan.headline.lines:
        assert plan.safe.contains(line.box)


def test_text_that_cannot_fit_is_refused() -> None:
    feed = PLACEMENTS["feed"]
    with pytest.raises(InvalidInput) as refused:
        layout.plan(120, 120, feed, font_id="lato", headline=LONG_HEADLINE, cta=CTA, logo_size=None)
    assert refused.value.extra["field"] in {"headline", "cta"}
    with pytest.raises(InvalidInput):
        layout.plan(16, 16, feed, font_id="lato", headline="Hi", cta=None, logo_size=None)


BACKGROUNDS = {
    "white": lambda size: Image.new("RGB", size, (255, 255, 255)),
    "black": lambda size: Image.new("RGB", size, (0, 0, 0)),
    "mid-grey": lambda size: Image.new("RGB", size, (119, 119, 119)),
    "noise": noise,
}


@pytest.mark.parametrize("background", list(BACKGROUNDS))
@pytest.mark.parametrize("placement", list(PLACEMENTS.values()), ids=list(PLACEMENTS))
def test_headline_contrast_reaches_4_5(background: str, placement: Placement) -> None:
    size = size_of(placement, 720)
    source = BACKGROUNDS[background](size)
    result = compose(source, placement, BrandLayer(LONG_HEADLINE, CTA, "lato", "#FFD400", None))
    style = result.headline_style
    assert style is not None and result.layout.headline is not None
    assert style.contrast >= contrast.WCAG_AA
    # Rebuild the background the text sits on (the source, under the reported scrim) and
    # measure every colour of it against the text colour.
    under = source.convert("RGBA")
    if style.scrim is not None:
        layer = Image.new("RGBA", size, (*style.scrim, round(style.scrim_alpha * 255)))
        under = Image.alpha_composite(under, layer)
    text_box = result.layout.headline.box
    region = under.crop((text_box.left, text_box.top, text_box.right, text_box.bottom))
    assert worst_contrast(style.text, region) >= 4.5
    # The button's label on the brand colour, too.
    assert result.cta_text is not None
    assert contrast.ratio(result.cta_text, (0xFF, 0xD4, 0x00)) >= 4.5


def test_a_plain_background_needs_no_scrim() -> None:
    feed = PLACEMENTS["feed"]
    for colour, text in (((255, 255, 255), contrast.INK), ((0, 0, 0), contrast.WHITE)):
        result = compose(
            Image.new("RGB", (600, 600), colour),
            feed,
            BrandLayer("Hello", None, "lato", "#000000", None),
        )
        assert result.headline_style is not None
        assert result.headline_style.scrim is None and result.headline_style.text == text
    noisy = compose(noise((600, 600)), feed, BrandLayer("Hello", None, "lato", "#000000", None))
    assert noisy.headline_style is not None and noisy.headline_style.scrim is not None


def test_the_logo_keeps_its_transparency_and_the_source_is_untouched() -> None:
    feed = PLACEMENTS["feed"]
    source = Image.new("RGB", (800, 800), (30, 120, 200))
    before = source.tobytes()
    logo = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((0, 0, 99, 99), fill=(255, 0, 0, 255))  # left half opaque
    result = compose(source, feed, BrandLayer(None, None, "lato", "#000000", logo))
    assert source.tobytes() == before
    assert result.image.size == source.size and result.image.mode == "RGB"
    box = result.layout.logo
    assert box is not None and result.layout.safe.contains(box)
    assert box.width == 2 * box.height
    opaque = (box.left + box.width // 4, box.top + box.height // 2)
    clear = (box.left + 3 * box.width // 4, box.top + box.height // 2)
    assert result.image.getpixel(opaque) == (255, 0, 0)
    assert result.image.getpixel(clear) == (30, 120, 200)
    # Nothing else was painted.
    outside = result.image.copy()
    ImageDraw.Draw(outside).rectangle(
        (box.left, box.top, box.right - 1, box.bottom - 1), fill=(30, 120, 200)
    )
    assert outside.tobytes() == source.tobytes()


def test_output_keeps_the_size_and_a_jpeg_source_stays_jpeg() -> None:
    link = PLACEMENTS["link"]
    source = Image.new("RGB", (1200, 628), (240, 240, 240))
    result = compose(source, link, BrandLayer("Hello", "Go", "noto-serif", "#112233", None))
    data, content_type, extension = encode(result.image, "JPEG")
    assert (content_type, extension) == ("image/jpeg", "jpg")
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.format == "JPEG" and decoded.size == (1200, 628)
    data, content_type, _ = encode(result.image, "PNG")
    with Image.open(io.BytesIO(data)) as decoded:
        assert (
            content_type == "image/png" and decoded.format == "PNG" and decoded.size == (1200, 628)
        )


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1024, 1024), "feed"),
        ((1080, 1350), "portrait"),
        ((720, 1280), "story"),
        ((1280, 720), "landscape"),
        ((1200, 628), "link"),
        ((1000, 400), "link"),
    ],
)
def test_the_nearest_placement_by_ratio(size: tuple[int, int], expected: str) -> None:
    assert nearest_placement(*size).id == expected
