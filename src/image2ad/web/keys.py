"""The API keys page: create a key (shown once) and revoke keys; it also lists the signed-in
browsers (web/sessions.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from image2ad.auth import repository, session_store, web
from image2ad.auth import service as auth
from image2ad.deps import RuntimeDep
from image2ad.models import User
from image2ad.runtime import Runtime
from image2ad.web.deps import CheckedForm, PageUser, text
from image2ad.web.render import render

router = APIRouter(include_in_schema=False)
PATH = "/settings/api-keys"


def _page(
    request: Request, rt: Runtime, user: User, *, new_key: str | None = None, status: int = 200
) -> Response:
    with rt.db.session(read_only=True) as session:
        keys = repository.list_keys(session, user.id)
        sessions = session_store.live_sessions(session, user.id)
    return render(
        request,
        "api_keys.html",
        user=user,
        keys=keys,
        sessions=sessions,
        this_session=web.current_session(request, rt).record_id,
        new_key=new_key,
        active="api-keys",
        status_code=status,
    )


@router.get(PATH)
def api_keys_page(request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    return _page(request, rt, user)


@router.post(PATH)
def create_api_key(request: Request, form: CheckedForm, user: PageUser, rt: RuntimeDep) -> Response:
    name = text(form, "name", 100).strip() or "web"
    with rt.db.session() as session:
        created = auth.create_api_key(session, user, name)
    # Answered directly (no redirect): the key exists only in this response.
    return _page(request, rt, user, new_key=created.plaintext, status=201)


@router.post(PATH + "/{key_id}/revoke")
def revoke_api_key(
    key_id: str, request: Request, form: CheckedForm, user: PageUser, rt: RuntimeDep
) -> Response:
    with rt.db.session() as session:
        auth.revoke_api_key(session, user, key_id)
    return RedirectResponse(PATH, status_code=303)
