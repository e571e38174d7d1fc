"""Webhook rules: endpoints (checked URL, a cap, a secret shown once), the delivery log,
redelivery."""

from __future__ import annotations

import anyio
from sqlalchemy.orm import Session

from image2ad.errors import Conflict, InvalidInput, NotFound
from image2ad.models import User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from image2ad.models.base import utcnow
from image2ad.net.addresses import parse_ip, refusal
from image2ad.net.errors import AddressRefused, FetchFailed, URLRefused
from image2ad.net.network import Network, PinnedBackend, SystemNetwork
from image2ad.net.urls import parse
from image2ad.webhooks import repository, signing
from image2ad.webhooks.schemas import (
    DeliveryOut,
    DeliveryState,
    EndpointCreate,
    EndpointOut,
)

MAX_DELIVERIES_LISTED = 100
# A slow resolver must not hold the request; each send checks the addresses anyway.
RESOLVE_TIMEOUT_S = 3.0


async def checked_url(url: str, *, allow_private: bool, network: Network | None = None) -> str:
    """The URL in canonical form, or 422: https to a public address (anything with
    `allow_private`). Every send checks the addresses again, as it connects."""
    try:
        target = parse(url)
    except URLRefused as exc:
        raise InvalidInput(f"url: {exc}.", field="url") from None
    if allow_private:
        return target.url
    if target.scheme != "https":
        raise InvalidInput("url: use an https URL.", field="url")
    literal = parse_ip(target.host)
    if literal is not None:
        reason = refusal(literal)
        if reason is not None:
            raise InvalidInput(f"url: {reason}; webhooks go to public addresses only.", field="url")
        return target.url
    backend = PinnedBackend(network or SystemNetwork(), frozenset())
    try:
        with anyio.move_on_after(RESOLVE_TIMEOUT_S):
            await backend.vetted_addresses(target.host, target.port)
    except AddressRefused as exc:
        raise InvalidInput(
            f"url: {exc}; webhooks go to public addresses only.", field="url"
        ) from None
    except FetchFailed:
        pass  # a name that does not resolve (yet): each send resolves and checks it again
    return target.url


def create(
    session: Session, user: User, body: EndpointCreate, url: str, *, max_endpoints: int
) -> WebhookEndpoint:
    if repository.count_endpoints(session, user.id) >= max_endpoints:
        raise Conflict(f"You have {max_endpoints} webhook endpoints; delete one first.")
    endpoint = WebhookEndpoint(
        user_id=user.id,
        url=url,
        events=list(dict.fromkeys(body.events)),
        secret=signing.new_secret(),
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def owned(session: Session, user: User, endpoint_id: str) -> WebhookEndpoint:
    endpoint = repository.owned_endpoint(session, user.id, endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delete(session: Session, user: User, endpoint_id: str) -> None:
    """Remove the endpoint and its log; a delivery in flight finds it gone and stops."""
    session.delete(owned(session, user, endpoint_id))
    session.flush()


def deliveries(
    session: Session, user: User, endpoint_id: str, limit: int = 50
) -> list[DeliveryOut]:
    endpoint = owned(session, user, endpoint_id)
    rows = repository.deliveries_of(session, endpoint.id, min(limit, MAX_DELIVERIES_LISTED))
    return [delivery_out(delivery, kind) for delivery, kind in rows]


def redeliver(session: Session, user: User, endpoint_id: str, delivery_id: str) -> DeliveryOut:
    """A new chain of attempts for the same event: the same `webhook-id`."""
    endpoint = owned(session, user, endpoint_id)
    earlier = repository.delivery_of_endpoint(session, endpoint.id, delivery_id)
    if earlier is None:
        raise NotFound("No such delivery.")
    if endpoint.disabled_at is not None:
        raise Conflict("This endpoint is disabled; add it again to receive events.")
    now = utcnow()
    again = WebhookDelivery(
        event_id=earlier.event_id,
        endpoint_id=endpoint.id,
        state=DeliveryState.PENDING.value,
        attempts=0,
        workflow_attempt=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(again)
    session.flush()
    event = session.get_one(WebhookEvent, earlier.event_id)
    return delivery_out(again, event.type)


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        created_at=endpoint.created_at,
        state="disabled" if endpoint.disabled_at else "active",
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
    )


def delivery_out(delivery: WebhookDelivery, kind: str) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        type=kind,
        state=DeliveryState(delivery.state),
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at if delivery.state == "pending" else None,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )
