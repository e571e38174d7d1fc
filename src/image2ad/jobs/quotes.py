"""What a job would cost and which model would run it: the quote that creating it charges."""

from __future__ import annotations

from sqlalchemy.orm import Session

from image2ad.catalog import Catalog, ModelSpec, Quote, availability
from image2ad.errors import InvalidInput, ModelUnavailable
from image2ad.jobs.schemas import JobCreate


def quote(session: Session, catalog: Catalog, request: JobCreate) -> Quote:
    """The model, parameters and price for `request`. A model Kie does not run now is refused
    (409), or routed to its configured fallback when that costs no more."""
    spec = catalog.get(request.type.value, request.model)
    params = spec.normalize_params(request.params or {}, legacy=request.user_params())
    price = catalog.price(spec, params)
    known = availability.statuses(session)
    state = availability.of(spec, known)
    if state.available:
        return Quote(spec, params, price)
    routed = _fallback(catalog, spec, request, known, price)
    if routed is not None:
        return routed
    other = availability.instead(catalog, spec, known)
    hint = f" Use {other.label} (model {other.id}) instead." if other else ""
    raise ModelUnavailable(f"{state.reason}{hint}", model=spec.id)


def _fallback(
    catalog: Catalog,
    spec: ModelSpec,
    request: JobCreate,
    known: availability.Statuses,
    price: int,
) -> Quote | None:
    target = catalog.find(spec.type.value, spec.fallback) if spec.fallback else None
    if target is None or not availability.of(target, known).available:
        return None
    shared = {k: v for k, v in (request.params or {}).items() if k in target.params}
    legacy = {k: v for k, v in request.user_params().items() if k in target.legacy}
    try:
        params = target.normalize_params(shared, legacy=legacy)
    except InvalidInput:
        return None
    routed_price = catalog.price(target, params)
    return Quote(target, params, routed_price) if routed_price <= price else None
