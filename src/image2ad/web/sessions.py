"""Signed-in browsers, listed on the API keys page: log one out, or log out everywhere."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from image2ad.auth import session_store, web
from image2ad.deps import RuntimeDep
from image2ad.web.accounts import end_session
from image2ad.web.deps import CheckedForm, PageUser
from image2ad.web.keys import PATH as SETTINGS_PATH

router = APIRouter(include_in_schema=False)
PATH = "/settings/sessions"


@router.post(PATH + "/revoke-all")
def log_out_everywhere(
    request: Request, form: CheckedForm, user: PageUser, rt: RuntimeDep
) -> Response:
    session_store.revoke(rt.db, user.id)
    return end_session(request, rt)


@router.post(PATH + "/{record_id}/revoke")
def log_out_one(
    record_id: str, request: Request, form: CheckedForm, user: PageUser, rt: RuntimeDep
) -> Response:
    if record_id == web.current_session(request, rt).record_id:
        return end_session(request, rt)
    session_store.revoke(rt.db, user.id, record_id)
    return RedirectResponse(SETTINGS_PATH + "#sessions-title", status_code=303)
