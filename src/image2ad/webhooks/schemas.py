from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["job.completed", "job.failed", "job.canceled", "credits.low"]
EVENT_TYPES: tuple[str, ...] = ("job.completed", "job.failed", "job.canceled", "credits.low")


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="An https URL on a public address; events are POSTed to it",
    )
    events: list[EventType] = Field(
        min_length=1, max_length=4, description="The events to send (each at most once)"
    )


class EndpointOut(BaseModel):
    """An endpoint as listed: never its secret, which is shown once, at creation."""

    id: str
    url: str
    events: list[str]
    created_at: datetime
    state: Literal["active", "disabled"]
    disabled_at: datetime | None
    disabled_reason: str | None


class EndpointCreated(EndpointOut):
    secret: str = Field(
        description="`whsec_` + base64 key for verifying signatures; shown only in this answer"
    )


class EndpointList(BaseModel):
    items: list[EndpointOut]


class DeliveryOut(BaseModel):
    id: str
    event_id: str = Field(description="The `webhook-id` header: the same on every attempt")
    type: str
    state: DeliveryState
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
