"""The HTML side of the one error handler: `error.html` for pages, a login redirect for 401."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from image2ad.auth import web
from image2ad.models import User
from image2ad.web.render import render, runtime

log = logging.getLogger(__name__)
NOT_PAGES = ("/api/", "/_emulator", "/static/", "/healthz", "/readyz", "/openapi.json", "/docs")
TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Check your input",
    429: "Slow down",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(NOT_PAGES)


async def error_page(
    request: Request, status_code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    if status_code == 401 and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
    user: User | None = None
    try:
        user = await asyncio.to_thread(web.session_user, request, runtime(request))
    except Exception:  # the page must render even when the database is the problem
        log.warning("could not load the user for an error page", exc_info=True)
    if status_code == 404 and message == "Not Found":
        message = "There is nothing at this address."
    return render(
        request,
        "error.html",
        user=user,
        status=status_code,
        title=TITLES.get(status_code, "Error"),
        message=message,
        status_code=status_code,
        headers=dict(headers or {}),
    )
