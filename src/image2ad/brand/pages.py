"""The Brand page, the bundled fonts for its live sample, and what the job page's renditions
partial (`_renditions.html`) needs from the server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from image2ad.brand import fonts, service
from image2ad.deps import RuntimeDep
from image2ad.errors import NotFound
from image2ad.jobs.schemas import JobOut
from image2ad.placements import PLACEMENTS
from image2ad.web.deps import PageUser
from image2ad.web.render import render, templates

router = APIRouter(include_in_schema=False)
# The fonts never change within a release; their file names carry no version.
FONT_CACHE = "public, max-age=86400"


def placement_options() -> list[dict[str, Any]]:
    """Each placement with its safe zone, for the renditions form and its overlay."""
    return [
        {
            "id": p.id,
            "label": f"{p.label} ({p.ratio_label})",
            "safe": {
                "top": p.safe_zone.top,
                "right": p.safe_zone.right,
                "bottom": p.safe_zone.bottom,
                "left": p.safe_zone.left,
            },
        }
        for p in PLACEMENTS.values()
    ]


def default_placement(job: JobOut) -> str:
    """The job's own placement, else the one whose ratio is nearest its result."""
    if job.placement in PLACEMENTS:
        return str(job.placement)
    return service.nearest_placement(job.result_width or 1, job.result_height or 1).id


templates.env.globals.update(
    brand_placements=placement_options, brand_default_placement=default_placement
)


@router.get("/brand")
def brand_page(request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    with rt.db.session(read_only=True) as session:
        kit = service.get_kit(session, user)
    return render(request, "brand.html", user=user, kit=kit, active="brand")


@router.get("/brand/fonts/{font_id}.ttf")
def font_file(font_id: str) -> Response:
    font = fonts.FONTS.get(font_id)
    if font is None:
        raise NotFound("No such font.")
    return FileResponse(font.path, media_type="font/ttf", headers={"Cache-Control": FONT_CACHE})
