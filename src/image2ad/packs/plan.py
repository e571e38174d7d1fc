"""Turn a pack request into one job request per placement and variant.

Each placement's job asks the model for the aspect ratio nearest the placement's (the one whose
crop loses least); the finish step then crops the result to the exact ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from image2ad import placements
from image2ad.catalog import Catalog, Quote
from image2ad.errors import InvalidInput
from image2ad.jobs import quotes
from image2ad.jobs.schemas import QuoteCreate
from image2ad.packs.schemas import PackCreate
from image2ad.placements import Placement

RATIO_PARAM = "aspect_ratio"


@dataclass(frozen=True)
class PlannedJob:
    placement: Placement
    variant: int
    request: QuoteCreate
    quote: Quote


def placements_of(request: PackCreate) -> list[Placement]:
    chosen = [placements.get(p) for p in request.placements]
    if len({p.id for p in chosen}) != len(chosen):
        raise InvalidInput("Each placement may be listed once.", field="placements")
    return chosen


def plan(session: Session, catalog: Catalog, request: PackCreate) -> list[PlannedJob]:
    """Every job of the pack, priced, in order: placements as asked, then variants."""
    if request.params and RATIO_PARAM in request.params:
        raise InvalidInput(
            "A pack sets each placement's aspect ratio itself; leave params.aspect_ratio out.",
            field="params.aspect_ratio",
        )
    jobs: list[PlannedJob] = []
    for placement in placements_of(request):
        job_request, quote = _for_placement(session, catalog, request, placement)
        jobs.extend(
            PlannedJob(placement, variant, job_request, quote)
            for variant in range(1, request.variants + 1)
        )
    return jobs


def _for_placement(
    session: Session, catalog: Catalog, request: PackCreate, placement: Placement
) -> tuple[QuoteCreate, Quote]:
    base = QuoteCreate(
        type=request.type,
        prompt=request.prompt,
        model=request.model,
        params=dict(request.params or {}),
        source_upload_id=request.source_upload_id,
        source_job_id=request.source_job_id,
    )
    spec = catalog.get(request.type.value, request.model)
    ratio = spec.params.get(RATIO_PARAM)
    if ratio is None or not ratio.choices:
        return base, quotes.quote(session, catalog, base)
    refused: InvalidInput | None = None
    for choice in placements.nearest_ratios(placement, [str(c) for c in ratio.choices]):
        attempt = base.model_copy(update={"params": {**(base.params or {}), RATIO_PARAM: choice}})
        try:
            return attempt, quotes.quote(session, catalog, attempt)
        except InvalidInput as exc:  # a ratio the other parameters rule out (e.g. 4:5 at 4K)
            refused = refused or exc
    raise refused or InvalidInput(
        f"{spec.label} makes no aspect ratio a {placement.label} crop can use.",
        field="placements",
    )
