"""The four generator pages; the form itself posts to the JSON API from generate.js."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import Response

from image2ad.catalog import GenerationType, ModelSpec
from image2ad.deps import RuntimeDep
from image2ad.errors import NotFound
from image2ad.runtime import Runtime
from image2ad.web import labels
from image2ad.web.deps import PageUser
from image2ad.web.render import render

router = APIRouter(include_in_schema=False)

LEDES = {
    GenerationType.TEXT_TO_IMAGE: "Describe the ad image you want.",
    GenerationType.IMAGE_TO_IMAGE: "Upload a product shot and describe how to change it.",
    GenerationType.TEXT_TO_VIDEO: "Describe a short video ad.",
    GenerationType.IMAGE_TO_VIDEO: "Upload an image and describe how it should move.",
}


def spec_or_404(rt: Runtime, type_name: str) -> ModelSpec:
    if type_name not in {t.value for t in GenerationType}:
        raise NotFound("There is no such generator.")
    return rt.catalog.default(type_name)


@router.get("/generate/{type_name}")
def generate_page(type_name: str, request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    spec = spec_or_404(rt, type_name)
    return render(
        request,
        "generate.html",
        user=user,
        spec=spec,
        price=rt.catalog.default_price(spec),
        lede=LEDES[spec.type],
        ratios=labels.ratio_choices(spec),
        formats=labels.simple_choices(spec, "output_format", {"png": "PNG", "jpeg": "JPEG"}),
        durations=labels.simple_choices(spec, "n_frames", {"10": "10 s", "15": "15 s"}),
        # The Idempotency-Key of this form: a double click or double submit makes one job.
        form_token="form-" + secrets.token_urlsafe(18),
        active=spec.type.value,
    )
