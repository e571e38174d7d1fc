"""The administrator dependency: the caller as for any API call, and then an admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from image2ad.deps import CurrentUser
from image2ad.errors import Forbidden
from image2ad.models import User


async def require_admin(user: CurrentUser) -> User:
    """401 without valid credentials (from CurrentUser), 403 for a user who is not an admin.

    async: a check of an attribute already loaded, not worth a threadpool hop."""
    if not user.is_admin:
        raise Forbidden("This needs an administrator.")
    return user


AdminUser = Annotated[User, Depends(require_admin)]
