"""Sign up, log in, log out. Passwords are Argon2id; sessions are server-side rows named by a
random token in a signed cookie (auth/session_store.py)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from image2ad.auth import repository, session_store, web
from image2ad.auth import service as auth
from image2ad.auth.passwords import verify_password
from image2ad.auth.sessions import new_session, set_cookie
from image2ad.deps import RuntimeDep
from image2ad.errors import Conflict, InvalidInput, RateLimited
from image2ad.models import User
from image2ad.runtime import Runtime
from image2ad.web.deps import CheckedForm, OptionalUser, text
from image2ad.web.render import render

router = APIRouter(include_in_schema=False)
HOME = "/generate/text-to-image"
# Set once this browser has signed in: `/` then offers Log in, and Sign up to everyone else.
RETURNING_COOKIE = "image2ad_returning"
RETURNING_MAX_AGE_S = 400 * 24 * 3600
MAX_PASSWORD_LENGTH = 1024


def safe_next(value: str | None) -> str:
    """Only a path on this site: no scheme, no `//host`, no backslash tricks."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 32 for ch in value)
    ):
        return HOME
    return value


def start_session(request: Request, rt: Runtime, user_id: str | None, to: str) -> Response:
    """Issue a new session (and CSRF token) and go to `to`; the old token stops working.

    Blocking (a database write when signing in): call it from a worker thread.
    """
    previous = web.current_session(request, rt)
    if previous.user_id is not None and previous.record_id is not None:
        # Signing in again replaces this browser's session; the old token must not live on.
        session_store.revoke(rt.db, previous.user_id, previous.record_id)
    if user_id is None:
        session = new_session()
    else:
        opened = session_store.open_session(
            rt.db,
            user_id,
            max_age_s=web.codec(rt).max_age_s,
            user_agent=request.headers.get("user-agent", ""),
            client_address=web.client_address(request),
        )
        session = new_session(user_id, opened.token, opened.record_id)
    web.replace_session(request, session)
    response = RedirectResponse(to, status_code=303)
    set_cookie(response, request, web.codec(rt), session)
    if user_id is not None:
        response.set_cookie(
            RETURNING_COOKIE,
            "1",
            max_age=RETURNING_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def end_session(request: Request, rt: Runtime, to: str = "/login") -> Response:
    """Revoke this browser's server session, so no copy of its cookie works any more."""
    return start_session(request, rt, None, to)


@router.get("/")
def home(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return RedirectResponse(HOME, status_code=303)
    returning = request.cookies.get(RETURNING_COOKIE) == "1"
    return RedirectResponse("/login" if returning else "/signup", status_code=303)


@router.get("/signup")
def signup_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "signup.html", user=None, email="", next=safe_next(next))


@router.post("/signup")
async def signup(request: Request, form: CheckedForm, rt: RuntimeDep) -> Response:
    email, password = text(form, "email", 320), text(form, "password", MAX_PASSWORD_LENGTH + 1)
    to = safe_next(text(form, "next"))
    address = web.client_address(request)

    def create() -> str:
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidInput("Use a password of at most 1024 characters.", field="password")
        auth.normalize_email(email)
        if len(password) < auth.MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                f"Use a password of at least {auth.MIN_PASSWORD_LENGTH} characters.",
                field="password",
            )
        # Counted once the input is valid, whether the account is new or taken: probing for
        # existing accounts costs a stranger the same as creating them (docs/adr/0009).
        rt.limiter.hit(
            rt.settings.signup_rate_limit,
            "signup",
            address,
            message="Too many new accounts from your network.",
        )
        with rt.db.session() as session:
            user = auth.create_user(
                session, email, password=password, credits_granted=rt.settings.signup_credits
            )
            return user.id

    try:
        user_id = await asyncio.to_thread(create)
    except (InvalidInput, Conflict, RateLimited) as exc:
        return render(
            request,
            "signup.html",
            user=None,
            email=email,
            next=to,
            error=exc.message,
            error_field=exc.extra.get("field"),
            status_code=exc.status_code,
            headers=exc.headers,
        )
    return await asyncio.to_thread(start_session, request, rt, user_id, to)


@router.get("/login")
def login_page(
    request: Request, user: OptionalUser, next: str | None = None, reset: str = ""
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(
        request, "login.html", user=None, email="", next=safe_next(next), reset=reset == "1"
    )


@router.post("/login")
async def login(request: Request, form: CheckedForm, rt: RuntimeDep) -> Response:
    email = text(form, "email", 320).strip().lower()
    password = text(form, "password", MAX_PASSWORD_LENGTH + 1)
    to = safe_next(text(form, "next"))
    client = web.client_address(request)

    def failure(message: str, status_code: int, headers: dict[str, str] | None = None) -> Response:
        return render(
            request,
            "login.html",
            user=None,
            email=email,
            next=to,
            error=message,
            status_code=status_code,
            headers=headers,
        )

    wait = web.login_throttle.retry_after(email, client)
    if wait is not None:
        # The first waits are seconds long: "about 1 min" would tell the owner to go away.
        when = f"{wait} s" if wait < 60 else f"about {round(wait / 60)} min"
        return failure(
            f"Too many failed attempts. Try again in {when}.",
            429,
            {"Retry-After": str(wait)},
        )

    def check() -> User | None:
        with rt.db.session(read_only=True) as session:
            user = repository.get_user_by_email(session, email)
        # Unknown users still pay for one Argon2 verification, so timing reveals nothing.
        stored = user.password_hash if user else None
        ok = verify_password(stored, password[:MAX_PASSWORD_LENGTH])
        return user if ok and len(password) <= MAX_PASSWORD_LENGTH else None

    user = await asyncio.to_thread(check)
    if user is None:
        web.login_throttle.failed(email, client)
        return failure("Email or password is incorrect.", 401)
    if user.disabled_at is not None:
        # Said only to whoever knows the password.
        return failure("This account is disabled. Ask whoever runs this image2ad.", 403)
    user_id = user.id
    web.login_throttle.succeeded(email, client)
    return await asyncio.to_thread(start_session, request, rt, user_id, to)


@router.post("/logout")
def logout(request: Request, form: CheckedForm, rt: RuntimeDep) -> Response:
    return end_session(request, rt)
