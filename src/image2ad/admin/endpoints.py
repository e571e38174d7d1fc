"""HTTP for administrators: find a user, make a password reset link for them, grant or take
back credits, disable or enable them.

The link is the one `image2ad users reset-password` prints and the forgot-password mail
carries: it works once, within an hour, and redeeming it logs out every browser of the user.
An admin hands it over by a channel of their own, so it is also how an admin helps someone
without mail set up.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from image2ad.admin import repository, service
from image2ad.admin.deps import AdminUser
from image2ad.deps import RuntimeDep
from image2ad.errors import COMMON_ERRORS, InvalidInput
from image2ad.models import User
from image2ad.throttle import limit_api

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    dependencies=[Depends(limit_api)],
    responses=COMMON_ERRORS,
)


class AdminUserOut(BaseModel):
    id: str
    email: str
    credits: int
    is_admin: bool
    created_at: datetime


class AdminUserList(BaseModel):
    items: list[AdminUserOut]


class CreditAdjustment(BaseModel):
    amount: int = Field(
        description="Credits to add (a grant), or negative to take back (an adjustment)"
    )
    reason: str = Field(max_length=200, description="The ledger line the user reads")


class AdminUserState(BaseModel):
    id: str
    email: str
    credits: int
    disabled: bool
    disabled_at: datetime | None


class PasswordResetLink(BaseModel):
    url: str
    expires_at: datetime


@router.get("/users", response_model=AdminUserList)
def find_users(
    admin: AdminUser,
    rt: RuntimeDep,
    email: Annotated[
        str | None,
        Query(
            max_length=320,
            description="An email address or its beginning (case does not matter); "
            "without it, the newest users",
        ),
    ] = None,
) -> AdminUserList:
    """Users by email (the exact address first, then those it begins, alphabetically), at
    most 50: how an admin finds the id the other admin calls take."""
    with rt.db.session(read_only=True) as session:
        return AdminUserList(
            items=[
                AdminUserOut(
                    id=user.id,
                    email=user.email,
                    credits=user.credits,
                    is_admin=user.is_admin,
                    created_at=user.created_at,
                )
                for user in repository.find_users(session, email)
            ]
        )


@router.post("/users/{user_id}/password-reset", status_code=201, response_model=PasswordResetLink)
def issue_password_reset(
    user_id: str, admin: AdminUser, rt: RuntimeDep, response: Response
) -> PasswordResetLink:
    """A one-time link with which the user chooses a new password (it expires in an hour;
    earlier links of theirs keep working until used or expired). Nothing is mailed: hand it
    over yourself."""
    with rt.db.session() as session:
        url, expires_at = service.password_reset(session, user_id, rt.settings.resolved_public_url)
    # Who asked for whom; never the token, which is as good as the password until used.
    log.info("admin %s issued a password reset link for user %s", admin.id, user_id)
    response.headers["Cache-Control"] = "no-store"
    return PasswordResetLink(url=url, expires_at=expires_at)


def user_state(user: User) -> AdminUserState:
    return AdminUserState(
        id=user.id,
        email=user.email,
        credits=user.credits,
        disabled=user.disabled_at is not None,
        disabled_at=user.disabled_at,
    )


@router.post("/users/{user_id}/credits", response_model=AdminUserState)
def adjust_credits(
    user_id: str, body: CreditAdjustment, admin: AdminUser, rt: RuntimeDep
) -> AdminUserState:
    """Grant credits (positive `amount`) or take them back (negative), with a reason the user
    sees in their ledger; 422 when that would take the balance below 0 (nothing changes)."""
    with rt.db.session() as session:
        user = service.adjust_credits(session, user_id, body.amount, body.reason)
        state = user_state(user)
    log.info("admin %s changed the credits of user %s by %d", admin.id, user_id, body.amount)
    return state


@router.post("/users/{user_id}/disable", response_model=AdminUserState)
def disable_user(user_id: str, admin: AdminUser, rt: RuntimeDep) -> AdminUserState:
    """The user can no longer log in or use their API keys; their browsers are logged out.
    Jobs already running finish as usual."""
    if user_id == admin.id:
        raise InvalidInput("You cannot disable yourself.")
    with rt.db.session() as session:
        state = user_state(service.set_disabled(session, user_id, True))
    log.info("admin %s disabled user %s", admin.id, user_id)
    return state


@router.post("/users/{user_id}/enable", response_model=AdminUserState)
def enable_user(user_id: str, admin: AdminUser, rt: RuntimeDep) -> AdminUserState:
    """Undo a disable: the password and API keys work again (browsers sign in anew)."""
    with rt.db.session() as session:
        state = user_state(service.set_disabled(session, user_id, False))
    log.info("admin %s enabled user %s", admin.id, user_id)
    return state
