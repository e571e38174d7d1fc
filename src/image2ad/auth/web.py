"""Cookie authentication for the web: the request's session, its user, CSRF, login throttling."""

from __future__ import annotations

import asyncio
import dataclasses
from functools import lru_cache

from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request

from image2ad.auth import session_store
from image2ad.auth.login_throttle import LoginThrottle
from image2ad.auth.sessions import (
    COOKIE_NAME,
    CSRF_FIELD,
    CSRF_HEADER,
    UNSAFE_METHODS,
    SessionCodec,
    WebSession,
    new_session,
    same_origin,
    token_matches,
)
from image2ad.errors import Forbidden
from image2ad.models import User
from image2ad.runtime import Runtime


class CsrfRejected(Forbidden):
    code = "csrf_failed"


@lru_cache(maxsize=8)
def _codec_for(secret_key: str) -> SessionCodec:
    return SessionCodec(secret_key)


def codec(rt: Runtime) -> SessionCodec:
    if not rt.secret_key:
        raise RuntimeError("the runtime has no signing key")
    return _codec_for(rt.secret_key)


def current_session(conn: HTTPConnection, rt: Runtime) -> WebSession:
    """The request's session, resolved once: signed in only while its server row is live.

    A fresh anonymous session when the cookie is absent or forged; when its server session was
    revoked or has expired, the cookie's CSRF token is kept and the cookie is re-sent without it.
    """
    cached = getattr(conn.state, "web_session", None)
    if isinstance(cached, WebSession):
        return cached
    carried = codec(rt).loads(conn.cookies.get(COOKIE_NAME))
    user: User | None = None
    if carried is None:
        session = new_session()
    elif carried.token is None:
        session = carried
    else:
        found = session_store.find(rt.db, carried.token)
        if found is None:
            session = WebSession(csrf=carried.csrf, fresh=True)
        else:
            user = found.user
            session = dataclasses.replace(carried, user_id=found.user.id, record_id=found.record_id)
    replace_session(conn, session, user)
    return session


def replace_session(conn: HTTPConnection, session: WebSession, user: User | None = None) -> None:
    """Use `session` for the rest of this request (login and logout issue a new one)."""
    conn.state.web_session = session
    conn.state.web_session_user = user


def session_user(conn: HTTPConnection, rt: Runtime) -> User | None:
    session = current_session(conn, rt)
    if session.user_id is None:
        return None
    user = getattr(conn.state, "web_session_user", None)
    return user if isinstance(user, User) else None


def check_csrf(conn: HTTPConnection, rt: Runtime, token: str | None) -> None:
    if not same_origin(conn, rt.settings.cors_origins):
        raise CsrfRejected("Cross-site request refused.")
    if not token_matches(current_session(conn, rt), token):
        raise CsrfRejected(
            "The security token is missing or out of date. Reload the page and try again."
        )


def cookie_user(request: Request, rt: Runtime) -> User | None:
    """The signed-in user of the session cookie; a state-changing call must carry the CSRF token."""
    session = current_session(request, rt)
    if session.user_id is None:
        return None
    if request.method in UNSAFE_METHODS:
        check_csrf(request, rt, request.headers.get(CSRF_HEADER))
    return session_user(request, rt)


async def checked_form(request: Request, rt: Runtime) -> FormData:
    """The posted form, after the origin and CSRF checks."""
    # Resolving the session may read the database: not on the event loop.
    await asyncio.to_thread(current_session, request, rt)
    form = await request.form()
    token = form.get(CSRF_FIELD)
    check_csrf(request, rt, token if isinstance(token, str) else None)
    return form


login_throttle = LoginThrottle()


def client_address(conn: HTTPConnection) -> str:
    """The client's address: the socket peer, or what a trusted proxy forwarded.

    uvicorn rewrites the peer from X-Forwarded-For only when the proxy's address is in
    IMAGE2AD_FORWARDED_ALLOW_IPS (cli `serve`); the header itself is never read here.
    """
    return conn.client.host if conn.client else ""
