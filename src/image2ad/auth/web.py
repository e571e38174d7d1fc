"""Cookie authentication for the web: the request's session, its user, CSRF, login throttling."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from functools import lru_cache

from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request

from image2ad.auth import repository
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
    return _codec_for(rt.settings.secret_key)


def current_session(conn: HTTPConnection, rt: Runtime) -> WebSession:
    """The request's session, decoded once; a fresh anonymous one when the cookie is absent."""
    cached = getattr(conn.state, "web_session", None)
    if isinstance(cached, WebSession):
        return cached
    session = codec(rt).loads(conn.cookies.get(COOKIE_NAME)) or new_session()
    conn.state.web_session = session
    return session


def replace_session(conn: HTTPConnection, session: WebSession) -> None:
    """Use `session` for the rest of this request (login and logout issue a new one)."""
    conn.state.web_session = session


def session_user(conn: HTTPConnection, rt: Runtime) -> User | None:
    session = current_session(conn, rt)
    if session.user_id is None:
        return None
    with rt.db.session(read_only=True) as db:
        return repository.get_user(db, session.user_id)


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
    form = await request.form()
    token = form.get(CSRF_FIELD)
    check_csrf(request, rt, token if isinstance(token, str) else None)
    return form


class LoginThrottle:
    """Failed logins per email and per client address, in a sliding window (per process)."""

    def __init__(self, per_email: int = 10, per_client: int = 100, window_s: float = 900.0):
        self.per_email = per_email
        self.per_client = per_client
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, email: str, client: str) -> int | None:
        """Seconds to wait before trying again, or None when a try is allowed now."""
        now = time.monotonic()
        waits = []
        with self._lock:
            for key, limit in ((f"e:{email}", self.per_email), (f"c:{client}", self.per_client)):
                stamps = self._pruned(key, now)
                if len(stamps) >= limit:
                    waits.append(stamps[0] + self.window_s - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, email: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:
                for key in list(self._failures):
                    self._pruned(key, now)
            for key in (f"e:{email}", f"c:{client}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(f"e:{email}", None)

    def _pruned(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key, deque())
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        if not stamps:
            self._failures.pop(key, None)
        return stamps


login_throttle = LoginThrottle()
