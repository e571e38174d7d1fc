"""Request dependencies as Annotated aliases: the runtime and the current user.

No dependency hands out a database session. FastAPI runs a yield-dependency's exit in another
threadpool slot, so a session held across it keeps its pooled connection while waiting for a
thread; under load every thread then waits for a connection and every connection waits for a
thread (bench.load wedged at 300 req/s). Endpoints open `rt.db.session()` inside one call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from image2ad.auth import service as auth
from image2ad.auth import web
from image2ad.errors import NotAuthenticated
from image2ad.models import User
from image2ad.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async: a plain attribute read, not worth a threadpool hop (FastAPI runs `def` in one).
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


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
