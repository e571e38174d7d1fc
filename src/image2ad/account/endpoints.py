from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from image2ad.credits import service as credits
from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1", tags=["account"], dependencies=[Depends(limit_api)], responses=COMMON_ERRORS
)


class Me(BaseModel):
    id: str
    email: str
    credits: int
    credits_low: bool = Field(
        description="The balance is below IMAGE2AD_CREDITS_LOW_THRESHOLD (default 3)"
    )


@router.get("/me", response_model=Me)
def me(user: CurrentUser, rt: RuntimeDep) -> Me:
    low = credits.is_low(user.credits, rt.settings.credits_low_threshold)
    return Me(id=user.id, email=user.email, credits=user.credits, credits_low=low)
