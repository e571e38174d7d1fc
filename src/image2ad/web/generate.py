"""The four generator pages; the form itself posts to the JSON API from generate.js."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from image2ad.catalog import GenerationType, ModelSpec, availability
from image2ad.deps import RuntimeDep
from image2ad.errors import NotFound
from image2ad.jobs import repository
from image2ad.jobs import service as jobs
from image2ad.jobs.schemas import JobOut
from image2ad.jobs.status import JobStatus
from image2ad.models import User
from image2ad.placements import PLACEMENTS
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


@dataclass(frozen=True)
class ModelOption:
    """One entry of the model picker."""

    spec: ModelSpec
    price: int
    available: bool
    reason: str | None
    controls: list[labels.Control]


def spec_or_404(rt: Runtime, type_name: str) -> ModelSpec:
    if type_name not in {t.value for t in GenerationType}:
        raise NotFound("There is no such generator.")
    return rt.catalog.default(type_name)


def model_options(rt: Runtime, default: ModelSpec) -> list[ModelOption]:
    """The type's models, default first. Withdrawn models are left out: no one can pick them
    again, whereas a model Kie paused is shown greyed with the reason, as it may come back."""
    with rt.db.session(read_only=True) as session:
        known = availability.statuses(session)
    specs = [default] + [s for s in rt.catalog.models(default.type) if s.id != default.id]
    options = []
    for spec in specs:
        if spec.withdrawn:
            continue
        state = availability.of(spec, known)
        options.append(
            ModelOption(
                spec=spec,
                price=rt.catalog.default_price(spec),
                available=state.available,
                reason=state.reason,
                controls=labels.param_controls(spec),
            )
        )
    return options


def preselected(options: list[ModelOption], wanted: str | None) -> ModelOption | None:
    """The model the URL names when it runs now, else the default, else any that runs."""
    runnable = [o for o in options if o.available]
    named = [o for o in runnable if o.spec.id == wanted]
    defaults = [o for o in runnable if o.spec.default]
    return next(iter(named + defaults + runnable), None)


def source_result(rt: Runtime, user: User, job_id: str | None) -> JobOut | None:
    """The user's finished image a generator starts from ("Use as reference", "Animate");
    anything else is ignored and the form asks for an upload as usual."""
    if not job_id:
        return None
    with rt.db.session(read_only=True) as session:
        job = repository.get_owned(session, job_id, user.id)
        if job is None or job.status != JobStatus.COMPLETED or job.result_type != "image":
            return None
        return jobs.to_out(job, rt.signer)


@router.get("/generate/{type_name}")
def generate_page(
    type_name: str,
    request: Request,
    user: PageUser,
    rt: RuntimeDep,
    model: Annotated[str | None, Query(max_length=100)] = None,
    source_job: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    default = spec_or_404(rt, type_name)
    options = model_options(rt, default)
    selected = preselected(options, model)
    spec = selected.spec if selected else default
    return render(
        request,
        "generate.html",
        user=user,
        spec=spec,
        options=options,
        selected=selected,
        price=selected.price if selected else 0,
        lede=LEDES[spec.type],
        source=source_result(rt, user, source_job) if spec.needs_image else None,
        # The Idempotency-Key of this form: a double click or double submit makes one job.
        form_token="form-" + secrets.token_urlsafe(18),
        placements=list(PLACEMENTS.values()),
        active=spec.type.value,
    )
