"""Page dependencies: the signed-in user from the session cookie, and CSRF-checked forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from image2ad.auth import web
from image2ad.deps import RuntimeDep
from image2ad.errors import NotAuthenticated
from image2ad.models import User


def optional_user(request: Request, rt: RuntimeDep) -> User | None:
    return web.session_user(request, rt)


def page_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The signed-in user; pages answer anonymous visitors with a redirect to /login."""
    if user is None:
        raise NotAuthenticated("Log in to see this page.")
    return user


async def checked_form(request: Request, rt: RuntimeDep) -> FormData:
    return await web.checked_form(request, rt)


OptionalUser = Annotated[User | None, Depends(optional_user)]
PageUser = Annotated[User, Depends(page_user)]
CheckedForm = Annotated[FormData, Depends(checked_form)]


def text(form: FormData, name: str, limit: int = 1024) -> str:
    """A form field as text (files and absent fields count as empty), cut at `limit`."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""
