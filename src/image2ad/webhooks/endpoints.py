"""HTTP for webhook endpoints and their delivery log."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS, error_responses
from image2ad.models import User
from image2ad.runtime import Runtime
from image2ad.throttle import limit_api
from image2ad.webhooks import delivery, repository, service
from image2ad.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
)

router = APIRouter(
    prefix="/api/v1",
    tags=["webhooks"],
    dependencies=[Depends(limit_api)],
    responses=COMMON_ERRORS | error_responses(409),
)


async def add_endpoint(rt: Runtime, user: User, body: EndpointCreate) -> EndpointCreated:
    """Check the URL, then store the endpoint with a new secret (also used by the web page)."""
    settings = rt.settings.webhooks
    url = await service.checked_url(body.url, allow_private=settings.allow_private)

    def run() -> EndpointCreated:
        with rt.db.session() as session:
            endpoint = service.create(
                session, user, body, url, max_endpoints=settings.max_endpoints
            )
            out = service.endpoint_out(endpoint)
            return EndpointCreated(**out.model_dump(), secret=endpoint.secret)

    return await asyncio.to_thread(run)


@router.post("/webhooks", status_code=201, response_model=EndpointCreated)
async def create_endpoint(
    body: EndpointCreate, user: CurrentUser, rt: RuntimeDep, response: Response
) -> EndpointCreated:
    """Send these events to `url`, signed per Standard Webhooks. The `secret` that verifies the
    signatures is in this answer only. 409 past the cap of endpoints per user."""
    created = await add_endpoint(rt, user, body)
    response.headers["Cache-Control"] = "no-store"
    return created


@router.get("/webhooks", response_model=EndpointList)
def list_endpoints(user: CurrentUser, rt: RuntimeDep) -> EndpointList:
    """Your endpoints, oldest first, with their state; never their secrets."""
    with rt.db.session(read_only=True) as session:
        items = [service.endpoint_out(e) for e in repository.endpoints_of(session, user.id)]
    return EndpointList(items=items)


@router.delete("/webhooks/{endpoint_id}", status_code=204, response_class=Response)
def delete_endpoint(endpoint_id: str, user: CurrentUser, rt: RuntimeDep) -> Response:
    """Remove the endpoint and its delivery log; nothing more is sent to it."""
    with rt.db.session() as session:
        service.delete(session, user, endpoint_id)
    return Response(status_code=204)


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=DeliveryList)
def list_deliveries(
    endpoint_id: str,
    user: CurrentUser,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=service.MAX_DELIVERIES_LISTED)] = 50,
) -> DeliveryList:
    """The endpoint's newest deliveries: event id and type, attempts, the last answer."""
    with rt.db.session(read_only=True) as session:
        return DeliveryList(items=service.deliveries(session, user, endpoint_id, limit))


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
)
async def redeliver(
    endpoint_id: str, delivery_id: str, user: CurrentUser, rt: RuntimeDep
) -> DeliveryOut:
    """Send the delivery's event again, as a new chain of attempts with the same event id."""
    return await resend(rt, user, endpoint_id, delivery_id)


async def resend(rt: Runtime, user: User, endpoint_id: str, delivery_id: str) -> DeliveryOut:
    def run() -> DeliveryOut:
        with rt.db.session() as session:
            return service.redeliver(session, user, endpoint_id, delivery_id)

    again = await asyncio.to_thread(run)
    # After the commit; the relay starts it should this process die first.
    await delivery.start(rt, again.id)
    return again
