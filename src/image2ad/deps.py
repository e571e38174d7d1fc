"""Request dependencies as Annotated aliases: the runtime, a unit of work, the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session as OrmSession

from image2ad.auth import service as auth
from image2ad.auth import web
from image2ad.errors import NotAuthenticated
from image2ad.models import User
from image2ad.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_read_session(rt: RuntimeDep) -> Iterator[OrmSession]:
    with rt.db.session(read_only=True) as session:
        yield session


ReadSession = Annotated[OrmSession, Depends(get_read_session)]


def get_current_user(request: Request, rt: RuntimeDep) -> User:
    """The caller, from an API key or else the web session cookie (CSRF-checked when unsafe).

    Loaded in its own short unit so no lock outlives it.
    """
    header = request.headers.get("authorization")
    if header is None:
        user = web.cookie_user(request, rt)
        if user is not None:
            return user
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = auth.authenticate_api_key(rt.db, token.strip())
        if user is not None:
            return user
    raise NotAuthenticated(
        "Send a valid API key as `Authorization: Bearer <key>`.",
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentUser = Annotated[User, Depends(get_current_user)]
