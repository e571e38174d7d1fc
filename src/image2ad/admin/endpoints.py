"""HTTP for administrators: find a user, and make a password reset link for them.

The link is the one `image2ad users reset-password` prints and the forgot-password mail
carries: it works once, within an hour, and redeeming it logs out every browser of the user.
An admin hands it over by a channel of their own, so it is also how an admin helps someone
without mail set up.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from image2ad.admin.deps import AdminUser
from image2ad.auth import resets
from image2ad.auth.session_store import token_hash
from image2ad.deps import RuntimeDep
from image2ad.errors import COMMON_ERRORS, NotFound
from image2ad.models import PasswordReset, User
from image2ad.throttle import limit_api

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    dependencies=[Depends(limit_api)],
    responses=COMMON_ERRORS,
)
MAX_USERS = 50


class AdminUserOut(BaseModel):
    id: str
    email: str
    credits: int
    is_admin: bool
    created_at: datetime


class AdminUserList(BaseModel):
    items: list[AdminUserOut]


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
    query = sa.select(User).limit(MAX_USERS)
    wanted = (email or "").strip().lower()
    if wanted:
        query = query.where(User.email.startswith(wanted, autoescape=True)).order_by(
            sa.case((User.email == wanted, 0), else_=1), User.email
        )
    else:
        query = query.order_by(User.created_at.desc(), User.id)
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
                for user in session.scalars(query)
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
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        token = resets.issue(session, user)
        expires_at = session.scalar(
            sa.select(PasswordReset.expires_at).where(PasswordReset.token_hash == token_hash(token))
        )
    assert expires_at is not None  # issued in the same unit
    # Who asked for whom; never the token, which is as good as the password until used.
    log.info("admin %s issued a password reset link for user %s", admin.id, user_id)
    response.headers["Cache-Control"] = "no-store"
    return PasswordResetLink(
        url=resets.link(rt.settings.resolved_public_url, token), expires_at=expires_at
    )
