"""The Webhooks settings page: add an endpoint (its secret shown once), the list with state and
recent deliveries, redeliver, delete. Forms carry the page's CSRF token (docs/adr/0004)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from image2ad.deps import RuntimeDep
from image2ad.errors import DomainError
from image2ad.models import User
from image2ad.runtime import Runtime
from image2ad.web.deps import CheckedForm, PageUser, text
from image2ad.web.render import render
from image2ad.webhooks import endpoints, repository, service
from image2ad.webhooks.schemas import EVENT_TYPES, EndpointCreate, EndpointCreated

router = APIRouter(include_in_schema=False)
PATH = "/settings/webhooks"
RECENT = 10


def _page(
    request: Request,
    rt: Runtime,
    user: User,
    *,
    created: EndpointCreated | None = None,
    error: str | None = None,
    form_url: str = "",
    status: int = 200,
) -> Response:
    with rt.db.session(read_only=True) as session:
        items = [
            (service.endpoint_out(e), service.deliveries(session, user, e.id, RECENT))
            for e in repository.endpoints_of(session, user.id)
        ]
    return render(
        request,
        "webhooks.html",
        user=user,
        endpoints=items,
        event_types=EVENT_TYPES,
        created=created,
        error=error,
        form_url=form_url,
        max_endpoints=rt.settings.webhooks.max_endpoints,
        active="webhooks",
        status_code=status,
    )


@router.get(PATH)
def webhooks_page(request: Request, user: PageUser, rt: RuntimeDep) -> Response:
    return _page(request, rt, user)


@router.post(PATH)
async def add_webhook(
    request: Request, form: CheckedForm, user: PageUser, rt: RuntimeDep
) -> Response:
    url = text(form, "url", 2048).strip()
    chosen = [value for value in form.getlist("events") if value in EVENT_TYPES]
    try:
        body = EndpointCreate.model_validate({"url": url, "events": chosen})
        created = await endpoints.add_endpoint(rt, user, body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem.get("loc", ()))
        message = "Choose at least one event." if field == "events" else problem["msg"]
        return _page(request, rt, user, error=message, form_url=url, status=422)
    except DomainError as exc:
        return _page(request, rt, user, error=exc.message, form_url=url, status=exc.status_code)
    # Answered directly (no redirect): the secret exists only in this response.
    return _page(request, rt, user, created=created, status=201)


@router.post(PATH + "/{endpoint_id}/delete")
def delete_webhook(
    endpoint_id: str, request: Request, form: CheckedForm, user: PageUser, rt: RuntimeDep
) -> Response:
    with rt.db.session() as session:
        service.delete(session, user, endpoint_id)
    return RedirectResponse(PATH, status_code=303)


@router.post(PATH + "/{endpoint_id}/deliveries/{delivery_id}/redeliver")
async def redeliver_webhook(
    endpoint_id: str,
    delivery_id: str,
    request: Request,
    form: CheckedForm,
    user: PageUser,
    rt: RuntimeDep,
) -> Response:
    await endpoints.resend(rt, user, endpoint_id, delivery_id)
    return RedirectResponse(f"{PATH}#endpoint-{endpoint_id}", status_code=303)
