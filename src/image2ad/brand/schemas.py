"""The brand kit and rendition bodies (public contract: design.md, "Ad studio")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from image2ad.brand.fonts import FONTS

HexColour = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
MAX_COLOURS = 6
HEADLINE_MAX = 200
CTA_MAX = 60


def _clean_text(value: str | None) -> str | None:
    """Whitespace runs (newlines included) become one space; the layout wraps by itself."""
    if value is None:
        return None
    return " ".join(value.split())


class BrandKitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    logo_upload_id: str | None = Field(
        None, max_length=64, description="An upload of yours (POST /uploads); null = no logo"
    )
    colors: list[HexColour] = Field(
        default_factory=list,
        max_length=MAX_COLOURS,
        description='Brand colours as "#RRGGBB"; the first fills the call-to-action button',
    )
    font: str | None = Field(None, max_length=40, description=f"One of: {', '.join(FONTS)}")
    headline: str | None = Field(None, max_length=HEADLINE_MAX)
    cta: str | None = Field(None, max_length=CTA_MAX)

    _clean = field_validator("headline", "cta")(_clean_text)

    @field_validator("colors")
    @classmethod
    def _upper(cls, colours: list[str]) -> list[str]:
        return [c.upper() for c in colours]

    @field_validator("font")
    @classmethod
    def _known_font(cls, font: str | None) -> str | None:
        if font is not None and font not in FONTS:
            raise ValueError(f"unknown font; use one of: {', '.join(FONTS)}")
        return font


class FontOut(BaseModel):
    id: str
    label: str
    licence: str


class BrandKitOut(BaseModel):
    logo_upload_id: str | None
    logo_url: str | None = Field(description="The logo file (your session or API key)")
    colors: list[str]
    font: str = Field(description="The font renditions use")
    headline: str | None
    cta: str | None
    fonts: list[FontOut] = Field(description="Every font a kit may choose")
    updated_at: datetime | None


class RenditionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headline: str | None = Field(
        None, max_length=HEADLINE_MAX, description='Absent = the kit\'s; "" = no headline'
    )
    cta: str | None = Field(None, max_length=CTA_MAX, description='Absent = the kit\'s; "" = none')
    logo: bool | None = Field(None, description="Absent = the kit's logo when it has one")
    placement: str | None = Field(
        None,
        max_length=16,
        description="Whose safe zone to keep clear; absent = the job's own, else the nearest ratio",
    )

    _clean = field_validator("headline", "cta")(_clean_text)


class RenditionOut(BaseModel):
    id: str
    job_id: str
    url: str = Field(description="A signed, short-lived link to the file")
    width: int
    height: int
    content_type: str
    size: int
    placement: str | None
    headline: str | None
    cta: str | None
    logo: bool
    created_at: datetime


class RenditionList(BaseModel):
    items: list[RenditionOut]
