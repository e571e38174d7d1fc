"""HTTP for the catalog: which models run each type, their parameters, prices and whether Kie
runs them now."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from image2ad.catalog import availability
from image2ad.catalog.schemas import ImagesOut, ModelList, ModelOut, ParamOut
from image2ad.catalog.spec import GenerationType, ModelSpec
from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1", tags=["models"], dependencies=[Depends(limit_api)], responses=COMMON_ERRORS
)


@router.get("/models", response_model=ModelList)
def list_models(user: CurrentUser, rt: RuntimeDep, type: GenerationType | None = None) -> ModelList:
    with rt.db.session(read_only=True) as session:
        known = availability.statuses(session)
    return ModelList(
        items=[
            model_out(spec, availability.of(spec, known), rt.catalog.default_price(spec))
            for spec in rt.catalog.models(type)
        ]
    )


def model_out(spec: ModelSpec, state: availability.Availability, price: int) -> ModelOut:
    return ModelOut(
        id=spec.id,
        type=spec.type,
        label=spec.label,
        description=spec.blurb,
        provider_model=spec.provider_model,
        api=spec.api,
        default=spec.default,
        available=state.available,
        unavailable_reason=state.reason,
        result_type=spec.result_type,
        price=price,
        prompt_max=spec.prompt_max,
        params={
            name: ParamOut(
                kind=p.kind,
                label=p.label or name,
                choices=p.choices,
                default=p.default,
                min=p.min,
                max=p.max,
            )
            for name, p in spec.params.items()
        },
        images=ImagesOut(
            min=spec.images.min if spec.images else 0, max=spec.images.max if spec.images else 0
        ),
    )
