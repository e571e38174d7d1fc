"""The web session cookie: signed, carrying the session's CSRF token and, once signed in, the
random token of a server-side session (auth/session_store.py).

The cookie is HttpOnly, so a page learns its CSRF token only from the HTML the server renders.
Anonymous visitors get a cookie too (no server row), so the login and signup forms are protected
the same way. Who is signed in is decided by the sessions table, never by the cookie alone.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.requests import HTTPConnection
from starlette.responses import Response

COOKIE_NAME = "image2ad_session"
MAX_AGE_S = 14 * 24 * 3600
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class WebSession:
    csrf: str
    user_id: str | None = None
    # The server-side session's token (in the cookie only) and row id, when signed in.
    token: str | None = None
    record_id: str | None = None
    # True until the cookie has been sent to the browser.
    fresh: bool = False


def new_session(
    user_id: str | None = None, token: str | None = None, record_id: str | None = None
) -> WebSession:
    """A session with its own CSRF token; a new one is issued at login and logout."""
    return WebSession(
        csrf=secrets.token_urlsafe(32),
        user_id=user_id,
        token=token,
        record_id=record_id,
        fresh=True,
    )


class SessionCodec:
    def __init__(self, secret_key: str, max_age_s: int = MAX_AGE_S) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="image2ad.session")
        self.max_age_s = max_age_s

    def dumps(self, session: WebSession) -> str:
        data = {"c": session.csrf}
        if session.token is not None:
            data["s"] = session.token
        return self._serializer.dumps(data)

    def loads(self, value: str | None) -> WebSession | None:
        """What a cookie carries (CSRF token, session token; no user yet), or None when it is
        missing, forged or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        token = data.get("s")
        return WebSession(csrf=data["c"], token=token if isinstance(token, str) else None)


def is_https(conn: HTTPConnection) -> bool:
    # uvicorn's proxy_headers rewrites the scheme only for trusted proxies; a forged header can
    # at worst add the Secure flag to the sender's own cookie.
    forwarded = conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return conn.url.scheme == "https" or forwarded == "https"


def own_origin(conn: HTTPConnection) -> str:
    scheme = "https" if is_https(conn) else "http"
    return f"{scheme}://{conn.headers.get('host', '')}"


def same_origin(conn: HTTPConnection, trusted: Iterable[str] = ()) -> bool:
    """False when the browser says the request comes from another site."""
    origin = conn.headers.get("origin")
    if origin is not None:
        return origin == own_origin(conn) or origin in set(trusted)
    site = conn.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    # Neither header: not a modern browser's cross-site request; the CSRF token still decides.
    return True


def token_matches(session: WebSession, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


def set_cookie(
    response: Response, conn: HTTPConnection, codec: SessionCodec, s: WebSession
) -> None:
    response.set_cookie(
        COOKIE_NAME,
        codec.dumps(s),
        max_age=codec.max_age_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(conn),
    )
