"""The admin console's pages under /admin: users (credits, disable, reset links), every job,
models, spend and webhooks.

To anyone who is not an admin, logged out included, every /admin address answers as an address
that does not exist (404), so the console's presence is not revealed; the JSON admin API answers
403 as its callers already know it exists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from image2ad.admin import repository, service
from image2ad.catalog import GenerationType, availability
from image2ad.credits import ledger
from image2ad.deps import RuntimeDep
from image2ad.errors import InvalidInput, NotFound
from image2ad.jobs import margin as spend
from image2ad.jobs.service import decode_cursor, encode_cursor
from image2ad.jobs.status import JobStatus
from image2ad.models import User
from image2ad.runtime import Runtime
from image2ad.web.deps import CheckedForm, OptionalUser, text
from image2ad.web.render import render

PREFIX = "/admin"
JOBS_PAGE = 50
USER_JOBS = 20
USER_LEDGER = 30


def admin_page_user(user: OptionalUser) -> User:
    if user is None or not user.is_admin:
        # The message of an unknown address, so the page reads the same.
        raise NotFound("Not Found")
    return user


AdminPage = Annotated[User, Depends(admin_page_user)]
# The router-wide check runs before any other dependency (the CSRF check of a form included),
# so a non-admin learns nothing from how a request to /admin fails.
router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(admin_page_user)])


def _render(request: Request, name: str, admin: User, section: str, **context: Any) -> Response:
    return render(request, name, user=admin, active="admin", section=section, **context)


@router.get("")
def admin_home(admin: AdminPage) -> Response:
    return RedirectResponse(f"{PREFIX}/users", status_code=303)


@router.get("/users")
def users_page(request: Request, admin: AdminPage, rt: RuntimeDep, email: str = "") -> Response:
    email = email[:320]
    with rt.db.session(read_only=True) as session:
        users = repository.find_users(session, email)
        activity = repository.activity(session, [u.id for u in users])
    return _render(
        request, "admin_users.html", admin, "users", users=users, activity=activity, email=email
    )


def _user_page(
    request: Request,
    rt: Runtime,
    admin: User,
    user_id: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with rt.db.session(read_only=True) as session:
        user = service.require_user(session, user_id)
        activity = repository.activity(session, [user.id])[user.id]
        jobs = repository.recent_jobs(session, user.id, USER_JOBS)
        lines = ledger.page(session, user.id, cursor=None, limit=USER_LEDGER)
    return _render(
        request,
        "admin_user.html",
        admin,
        "users",
        subject=user,
        activity=activity,
        jobs=jobs,
        lines=lines.items,
        more_lines=lines.next_cursor is not None,
        status_code=status_code,
        **context,
    )


@router.get("/users/{user_id}")
def user_page(
    user_id: str, request: Request, admin: AdminPage, rt: RuntimeDep, done: str = ""
) -> Response:
    return _user_page(request, rt, admin, user_id, done=done)


@router.post("/users/{user_id}/credits")
def change_credits(
    user_id: str, request: Request, admin: AdminPage, form: CheckedForm, rt: RuntimeDep
) -> Response:
    raw, reason = text(form, "amount", 20).strip(), text(form, "reason", 1000)
    take_back = text(form, "action") == "revoke"
    try:
        if not raw.isdigit():
            raise InvalidInput("Give a whole number of credits.", field="amount")
        with rt.db.session() as session:
            service.adjust_credits(session, user_id, -int(raw) if take_back else int(raw), reason)
    except InvalidInput as exc:
        return _user_page(
            request,
            rt,
            admin,
            user_id,
            status_code=422,
            error=exc.message,
            form_amount=raw,
            form_reason=reason,
        )
    done = "revoked" if take_back else "granted"
    return RedirectResponse(f"{PREFIX}/users/{user_id}?done={done}", status_code=303)


@router.post("/users/{user_id}/disable")
def disable_user(
    user_id: str, request: Request, admin: AdminPage, form: CheckedForm, rt: RuntimeDep
) -> Response:
    if user_id == admin.id:
        return _user_page(
            request, rt, admin, user_id, status_code=422, error="You cannot disable yourself."
        )
    with rt.db.session() as session:
        service.set_disabled(session, user_id, True)
    return RedirectResponse(f"{PREFIX}/users/{user_id}?done=disabled", status_code=303)


@router.post("/users/{user_id}/enable")
def enable_user(
    user_id: str, request: Request, admin: AdminPage, form: CheckedForm, rt: RuntimeDep
) -> Response:
    with rt.db.session() as session:
        service.set_disabled(session, user_id, False)
    return RedirectResponse(f"{PREFIX}/users/{user_id}?done=enabled", status_code=303)


@router.post("/users/{user_id}/password-reset")
def password_reset(
    user_id: str, request: Request, admin: AdminPage, form: CheckedForm, rt: RuntimeDep
) -> Response:
    with rt.db.session() as session:
        url, expires_at = service.password_reset(session, user_id, rt.settings.resolved_public_url)
    # Answered directly: the link exists only in this response.
    return _user_page(request, rt, admin, user_id, reset_url=url, reset_expires_at=expires_at)


def _job_filter(status: str, type: str, model: str, email: str, since: str) -> repository.JobFilter:
    if status and status not in {s.value for s in JobStatus}:
        raise InvalidInput("Unknown status.", field="status")
    if type and type not in {t.value for t in GenerationType}:
        raise InvalidInput("Unknown type.", field="type")
    return repository.JobFilter(
        status=status or None,
        type_=type or None,
        model=model[:100] or None,
        email=email[:320] or None,
        since=service.since(since) if since else None,
    )


@router.get("/jobs")
def jobs_page(
    request: Request,
    admin: AdminPage,
    rt: RuntimeDep,
    status: str = "",
    type: str = "",
    model: str = "",
    email: str = "",
    since: str = "",
    cursor: str = "",
) -> Response:
    filters = _job_filter(status, type, model, email, since)
    before = decode_cursor(cursor[:200]) if cursor else None
    with rt.db.session(read_only=True) as session:
        rows = repository.jobs(session, filters, before=before, limit=JOBS_PAGE + 1)
        models = repository.job_models(session)
    shown = rows[:JOBS_PAGE]
    query = {"status": status, "type": type, "model": model, "email": email, "since": since}
    next_cursor = encode_cursor(shown[-1][0]) if len(rows) > JOBS_PAGE else None
    return _render(
        request,
        "admin_jobs.html",
        admin,
        "jobs",
        rows=shown,
        filters=query,
        filtered=any(query.values()),
        next_query={**{k: v for k, v in query.items() if v}, "cursor": next_cursor}
        if next_cursor
        else None,
        first_page=not cursor,
        models=models,
        types=list(GenerationType),
        statuses=list(JobStatus),
        spans=list(service.SPANS),
    )


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request, admin: AdminPage, rt: RuntimeDep) -> Response:
    with rt.db.session(read_only=True) as session:
        found = repository.job_with_email(session, job_id)
    if found is None:
        raise NotFound("No such job.")
    job, email = found
    return _render(request, "admin_job.html", admin, "jobs", job=job, email=email)


@router.get("/models")
def models_page(request: Request, admin: AdminPage, rt: RuntimeDep) -> Response:
    with rt.db.session(read_only=True) as session:
        known = availability.statuses(session)
    models = [
        {
            "spec": spec,
            "state": availability.of(spec, known),
            "status": known.get(spec.provider_model),
            "price": rt.catalog.default_price(spec) if not spec.withdrawn else None,
        }
        for spec in rt.catalog.models()
    ]
    return _render(request, "admin_models.html", admin, "models", models=models)


@router.get("/spend")
def spend_page(request: Request, admin: AdminPage, rt: RuntimeDep, since: str = "7d") -> Response:
    start = service.since(since)
    with rt.db.session(read_only=True) as session:
        by_model = spend.margin(session, rt.catalog, start)
        by_day = spend.margin(session, rt.catalog, start, by_day=True)
    days: dict[str, list[spend.MarginRow]] = {}
    for row in by_day:
        days.setdefault(row.day, []).append(row)
    types: dict[str, list[spend.MarginRow]] = {}
    for row in by_model:
        types.setdefault(row.type, []).append(row)
    return _render(
        request,
        "admin_spend.html",
        admin,
        "spend",
        since=since,
        start=start,
        spans=list(service.SPANS),
        by_model=by_model,
        by_type=[spend.total(rows, label) for label, rows in types.items()],
        by_day=[(day, spend.total(rows, day), rows) for day, rows in days.items()],
        total=spend.total(by_model),
        usd_per_credit=spend.KIE_CREDIT_USD,
        now=datetime.now(UTC),
    )


@router.get("/webhooks")
def webhooks_page(request: Request, admin: AdminPage, rt: RuntimeDep) -> Response:
    with rt.db.session(read_only=True) as session:
        endpoints = repository.webhook_health(session)
    return _render(request, "admin_webhooks.html", admin, "webhooks", endpoints=endpoints)


@router.api_route(
    "/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
)
def nothing_here(rest: str, admin: AdminPage) -> Response:
    # Last in the router: a known /admin path asked with another method would be a 405, which
    # tells a stranger the path exists.
    raise NotFound("Not Found")
