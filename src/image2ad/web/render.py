"""Rendering pages: one Jinja environment, the context every page shares, security headers."""

from __future__ import annotations

import dataclasses
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from image2ad.auth import web
from image2ad.auth.sessions import CSRF_FIELD, set_cookie
from image2ad.catalog import GenerationType
from image2ad.models import User
from image2ad.runtime import Runtime
from image2ad.web import labels

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    ratio_label=labels.ratio_label,
    param_rows=labels.param_rows,
    stage_text=labels.stage_text,
    stage_percent=labels.stage_percent,
    credits_text=labels.credits_text,
    failure_advice=labels.failure_advice,
    refund_line=labels.refund_line,
    download_name=labels.result_download_name,
    when=labels.when,
    device_label=labels.device_label,
    status_text=labels.STATUS_TEXT,
    pack_status_text=labels.PACK_STATUS_TEXT,
    placement_label=labels.placement_label,
    stage_names=labels.STAGE_TEXT,
    csrf_field=CSRF_FIELD,
)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
NAV_ICONS = {
    GenerationType.TEXT_TO_IMAGE: "T→I",
    GenerationType.IMAGE_TO_IMAGE: "I→I",
    GenerationType.TEXT_TO_VIDEO: "T→V",
    GenerationType.IMAGE_TO_VIDEO: "I→V",
}


@lru_cache(maxsize=64)
def static_url(name: str) -> str:
    """A cache-busting URL: the query changes whenever the file does."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


templates.env.globals["static_url"] = static_url


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def nav(rt: Runtime) -> list[dict[str, str]]:
    items = [
        {"key": t.value, "label": t.label, "url": f"/generate/{t.value}", "icon": NAV_ICONS[t]}
        for t in GenerationType
    ]
    return [
        *items,
        {"key": "packs", "label": "Ad packs", "url": "/packs", "icon": "▤"},
        {"key": "library", "label": "Library", "url": "/library", "icon": "▦"},
    ]


def render(
    request: Request,
    name: str,
    *,
    user: User | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """Render a page with the shared context; sends the session cookie when it is new."""
    rt = runtime(request)
    session = web.current_session(request, rt)
    shared = {
        "user": user,
        "csrf_token": session.csrf,
        "emulator": rt.settings.uses_emulator,
        "credits_url": rt.settings.credits_url,
        # What the pages' scripts need to word a cancel and a failure as the server would.
        "page_texts": {
            "cancelKeeps": rt.settings.cancel_after_submit == "keep",
            "creditsUrl": rt.settings.credits_url,
            "failureAdvice": labels.FAILURE_ADVICE,
            "failureDefault": labels.FAILURE_DEFAULT,
        },
        "nav": nav(rt) if user else [],
        "active": "",
    }
    response = templates.TemplateResponse(
        request,
        name,
        {**shared, **context},
        status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
    )
    if session.fresh:
        sent = dataclasses.replace(session, fresh=False)
        set_cookie(response, request, web.codec(rt), sent)
        web.replace_session(request, sent)
    return response


def fragment(request: Request, name: str, **context: Any) -> Response:
    """A partial (no layout), for pages that swap a piece in place."""
    return templates.TemplateResponse(request, name, context, headers=PAGE_HEADERS)
