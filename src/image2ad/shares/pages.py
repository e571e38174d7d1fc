"""The public side of share links: the page, its files and a pack's ZIP, with no login.

These answers carry no session (no cookie is set on a visitor), keep the token out of other
sites' logs (`no-referrer`; the pages have no forms, so nothing needs an Origin), ask search
engines to stay away and caches to keep nothing, so a revoked link stops showing at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from image2ad.auth import web
from image2ad.deps import RuntimeDep
from image2ad.errors import DomainError, NotFound
from image2ad.jobs import export
from image2ad.runtime import Runtime
from image2ad.shares import names, service
from image2ad.storage.serving import FILE_HEADERS, serve_object
from image2ad.web.render import PAGE_HEADERS, templates

router = APIRouter(prefix="/s", include_in_schema=False)
# Per client address: a pack's page loads up to 40 files and posters at once, and a flood of
# guessed tokens is slowed long before it could find anything (tokens are 256-bit random).
RATE_LIMIT = "600/minute"
# secrets.token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_TOKEN = 100
PRIVATE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex, nofollow",
}
T = TypeVar("T")


def _shared_call(rt: Runtime, token: str, pick: Callable[[service.Shared], T]) -> T:
    if len(token) > MAX_TOKEN:
        raise NotFound(service.GONE)
    with rt.db.session(read_only=True) as session:
        return pick(service.open_token(session, token))


async def _open(
    request: Request, rt: Runtime, token: str, pick: Callable[[service.Shared], T]
) -> T:
    rt.limiter.hit(RATE_LIMIT, "share", web.client_address(request), message="Too many requests.")
    return await asyncio.to_thread(_shared_call, rt, token, pick)


def _page(request: Request, name: str, status_code: int = 200, **context: object) -> Response:
    rt: Runtime = request.app.state.runtime
    return templates.TemplateResponse(
        request,
        name,
        {"emulator": rt.settings.uses_emulator, **context},
        status_code=status_code,
        headers={**PAGE_HEADERS, **PRIVATE_HEADERS},
    )


def _gone(request: Request, exc: DomainError) -> Response:
    """The plain page for a link that no longer opens (or a client over its limit)."""
    titles = {410: "This link has expired", 429: "Slow down"}
    response = _page(
        request,
        "share_gone.html",
        status_code=exc.status_code,
        status=exc.status_code,
        title=titles.get(exc.status_code, "Link not found"),
        message=exc.message,
    )
    return _with_headers(response, exc.headers or {})


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    response.headers.update(headers)
    return response


@router.get("/{token}")
async def shared_page(token: str, request: Request, rt: RuntimeDep) -> Response:
    try:
        shared = await _open(request, rt, token, lambda s: s)
    except DomainError as exc:
        return _gone(request, exc)
    return _page(request, "share.html", shared=shared, base=f"/s/{token}")


@router.get("/{token}/files/{job_id}")
async def shared_file(token: str, job_id: str, request: Request, rt: RuntimeDep) -> Response:
    try:
        result = await _open(request, rt, token, lambda s: s.result(job_id))
        assert result.key is not None  # only finished results are found
        response = await serve_object(
            rt.storage, result.key, result.content_type, filename=result.file_name
        )
    except DomainError as exc:
        return _gone(request, exc)
    return _with_headers(response, PRIVATE_HEADERS)


@router.get("/{token}/files/{job_id}/poster")
async def shared_poster(token: str, job_id: str, request: Request, rt: RuntimeDep) -> Response:
    try:
        result = await _open(request, rt, token, lambda s: s.result(job_id))
        if result.poster_key is None:
            raise NotFound(service.GONE)
        response = await serve_object(rt.storage, result.poster_key, "image/jpeg")
    except DomainError as exc:
        return _gone(request, exc)
    return _with_headers(response, PRIVATE_HEADERS)


@router.get("/{token}/zip")
async def shared_zip(token: str, request: Request, rt: RuntimeDep) -> Response:
    """A pack's finished results as one ZIP, streamed as it is written (jobs/export.py)."""
    try:
        shared = await _open(request, rt, token, lambda s: s)
        if not shared.is_pack or not shared.ready:
            raise NotFound("There is nothing to download here yet.")
    except DomainError as exc:
        return _gone(request, exc)
    members = [
        export.Entry(job_id=r.job_id, key=r.key, name=name, modified=r.modified, size=r.size)
        for r, name in zip(
            shared.ready, export.unique_names(r.file_name for r in shared.ready), strict=True
        )
        if r.key is not None
    ]
    archive = names.archive_name(shared.created_at)
    return StreamingResponse(
        export.zip_stream(rt.storage, members),
        media_type="application/zip",
        headers={
            **FILE_HEADERS,
            **PRIVATE_HEADERS,
            "Content-Disposition": f'attachment; filename="{archive}"',
        },
    )
