from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from image2ad.deps import CurrentUser
from image2ad.errors import COMMON_ERRORS
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1", tags=["account"], dependencies=[Depends(limit_api)], responses=COMMON_ERRORS
)


class Me(BaseModel):
    id: str
    email: str
    credits: int


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    return Me(id=user.id, email=user.email, credits=user.credits)
