from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from image2ad.deps import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["account"])


class Me(BaseModel):
    id: str
    email: str
    credits: int


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    return Me(id=user.id, email=user.email, credits=user.credits)
