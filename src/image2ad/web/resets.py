"""Forgotten passwords: ask for a reset link by email (when SMTP is set up), then choose a new
password with it. Without SMTP the page names the command whoever runs image2ad can use."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.background import BackgroundTask
from starlette.responses import Response

from image2ad.auth import mail, repository, resets, web
from image2ad.auth import service as auth
from image2ad.deps import RuntimeDep
from image2ad.errors import InvalidInput, RateLimited
from image2ad.models.base import utcnow
from image2ad.web.deps import CheckedForm, text
from image2ad.web.render import render

router = APIRouter(include_in_schema=False)
SENT = "If an account exists for that address, a reset link is on its way."


@router.get("/forgot-password")
def forgot_password_page(request: Request, rt: RuntimeDep) -> Response:
    can_mail = rt.settings.smtp_url is not None
    return render(request, "forgot_password.html", user=None, email="", can_mail=can_mail)


@router.post("/forgot-password")
async def forgot_password(request: Request, form: CheckedForm, rt: RuntimeDep) -> Response:
    settings = rt.settings
    if settings.smtp_url is None:
        return forgot_password_page(request, rt)
    email = text(form, "email", 320)
    address = web.client_address(request)

    def issue() -> tuple[str, str] | None:
        normal = auth.normalize_email(email)
        # Counted whether or not the account exists, so the answer tells nothing either way.
        rt.limiter.hit(
            settings.password_reset_rate_limit,
            "password-reset",
            address,
            message="Too many reset requests from your network.",
        )
        with rt.db.session() as session:
            user = repository.get_user_by_email(session, normal)
            return None if user is None else (user.email, resets.issue(session, user))

    try:
        issued = await asyncio.to_thread(issue)
    except (InvalidInput, RateLimited) as exc:
        return render(
            request,
            "forgot_password.html",
            user=None,
            email=email,
            can_mail=True,
            error=exc.message,
            error_field=exc.extra.get("field"),
            status_code=exc.status_code,
            headers=exc.headers,
        )
    response = render(request, "forgot_password.html", user=None, can_mail=True, sent=SENT)
    if issued is not None:
        to, token = issued
        # Sent after the answer: how long a mail server takes must not tell who has an account.
        response.background = BackgroundTask(
            mail.send_reset_link,
            settings,
            to,
            resets.link(settings.resolved_public_url, token),
            utcnow() + resets.DEFAULT_TTL,
        )
    return response


@router.get("/reset-password")
def reset_password_page(request: Request, rt: RuntimeDep, token: str = "") -> Response:
    live = bool(token) and resets.is_live(rt.db, token)
    return render(
        request,
        "reset_password.html",
        user=None,
        token=token if live else "",
        error=None if live else resets.SPENT,
        # The token is in this page's URL. The pages' same-origin Referrer-Policy keeps it from
        # other sites; "no-referrer" would also blank the form's Origin, which CSRF checks need.
        status_code=200 if live else 422,
    )


@router.post("/reset-password")
async def reset_password(request: Request, form: CheckedForm, rt: RuntimeDep) -> Response:
    token = text(form, "token", 200)
    password = text(form, "password", resets.MAX_PASSWORD_LENGTH + 1)
    try:
        await asyncio.to_thread(resets.redeem, rt.db, token, password)
    except InvalidInput as exc:
        field = exc.extra.get("field")
        return render(
            request,
            "reset_password.html",
            user=None,
            token=token if field == "password" else "",
            error=exc.message,
            error_field=field,
            status_code=exc.status_code,
        )
    return RedirectResponse("/login?reset=1", status_code=303)
