"""The admin console: pages only admins see (404 to everyone else), credits granted and taken
back with a reason, disabling an account, all users' jobs with filters, spend as `margin`."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from image2ad.catalog import Catalog
from image2ad.jobs.margin import margin
from image2ad.models import Job, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from image2ad.models.base import utcnow
from tests.admin.test_admin_api import USERS, an_admin
from tests.auth.test_password_reset import can_log_in
from tests.fixtures.factories import TestUser, assert_ledger_invariants
from tests.fixtures.live_app import LiveApp
from tests.functions.test_seed_endpoints import bearer, call, supabase, token  # noqa: F401
from tests.web.session import PASSWORD, Browserish, signed_in

NOWHERE = "There is nothing at this address."


def console_paths(user_id: str, job_id: str) -> list[str]:
    return [
        "/admin",
        "/admin/users",
        "/admin/users?email=a",
        f"/admin/users/{user_id}",
        "/admin/jobs",
        "/admin/jobs?since=bogus&status=nope",
        f"/admin/jobs/{job_id}",
        "/admin/models",
        "/admin/spend",
        "/admin/spend?since=30d",
        "/admin/webhooks",
    ]


def console_forms(user_id: str) -> list[str]:
    return [
        f"/admin/users/{user_id}/{action}"
        for action in ("credits", "disable", "enable", "password-reset")
    ]


def a_job(user_id: str, **values: Any) -> Job:
    fields: dict[str, Any] = {
        "user_id": user_id,
        "type": "text-to-image",
        "prompt": "Cold brew can",
        "model": "nano-banana",
        "status": "completed",
        "stage": None,
        "credits_charged": 1,
        "callback_secret": "s",
        "deadline_at": datetime.now(UTC) + timedelta(hours=1),
    }
    fields.update(values)
    return Job(**fields)


def add_jobs(live_app: LiveApp, jobs: list[Job]) -> list[str]:
    with live_app.db.session() as session:
        session.add_all(jobs)
        session.flush()
        return [job.id for job in jobs]


def test_every_console_page_is_404_unless_you_are_an_admin(live_app: LiveApp) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=3)
    (job_id,) = add_jobs(live_app, [a_job(user.id)])
    paths, forms = console_paths(user.id, job_id), console_forms(user.id)
    with Browserish(live_app) as anonymous:
        nowhere = anonymous.page("/admin-nothing-here")
        assert nowhere.status_code == 404 and NOWHERE in nowhere.text
        for path in paths:
            reply = anonymous.page(path, follow_redirects=False)
            assert reply.status_code == 404, (path, reply.status_code)
            assert NOWHERE in reply.text
        for path in forms:
            reply = anonymous.submit(path, {"amount": "5", "reason": "x"})
            assert reply.status_code == 404, (path, reply.status_code)
    with signed_in(live_app, user) as member:
        assert 'href="/admin/users"' not in member.page("/credits").text
        for path in paths:
            reply = member.page(path, follow_redirects=False)
            assert reply.status_code == 404, (path, reply.status_code)
            assert NOWHERE in reply.text and "Admin" not in reply.text
        for method, path in (("POST", "/admin/users"), ("GET", forms[0]), ("DELETE", paths[3])):
            assert member.http.request(method, path).status_code == 404, (method, path)
        for path in forms:
            # With a valid CSRF token and without one: 404 either way, never a 403.
            for token in (None, ""):
                reply = member.submit(path, {"amount": "5", "reason": "x"}, token=token)
                assert reply.status_code == 404, (path, token, reply.status_code)
    with signed_in(live_app, admin) as console:
        assert 'href="/admin/users"' in console.page("/credits").text
        for path in paths:
            reply = console.page(path, follow_redirects=True)
            expected = 422 if "bogus" in path else 200
            assert reply.status_code == expected, (path, reply.status_code, reply.text[:300])
    # Nothing happened to the user along the way.
    with live_app.client(user) as api:
        assert api.get("/api/v1/me").json()["credits"] == 3


def test_the_json_admin_calls_are_403_for_a_user_and_401_logged_out(live_app: LiveApp) -> None:
    user, other = live_app.user(credits=2), live_app.user(credits=2)
    calls = [
        ("post", f"{USERS}/{other.id}/credits", {"amount": 5, "reason": "promo"}),
        ("post", f"{USERS}/{other.id}/credits", {"amount": -1, "reason": "oops"}),
        ("post", f"{USERS}/{other.id}/disable", None),
        ("post", f"{USERS}/{other.id}/enable", None),
    ]
    for client, status, code in (
        (live_app.client(user), 403, "forbidden"),
        (live_app.client(), 401, "not_authenticated"),
    ):
        with client:
            for method, path, body in calls:
                reply = client.request(method, path, json=body)
                assert reply.status_code == status, (path, reply.text)
                assert reply.json()["error"]["code"] == code
    with live_app.client(other) as api:
        assert api.get("/api/v1/me").json()["credits"] == 2


def ledger_of(live_app: LiveApp, user: TestUser) -> list[dict[str, Any]]:
    with live_app.client(user) as api:
        items: list[dict[str, Any]] = api.get("/api/v1/credits/ledger").json()["items"]
        me = api.get("/api/v1/me").json()
    assert me["credits"] == sum(item["amount"] for item in items)
    assert_ledger_invariants(live_app.db, user.id)
    return items


def test_grants_and_take_backs_land_in_the_ledger_with_their_reason(live_app: LiveApp) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=4)
    path = f"{USERS}/{user.id}/credits"
    with live_app.client(admin) as api:
        granted = api.post(path, json={"amount": 10, "reason": "Launch promo"})
        assert granted.status_code == 200, granted.text
        assert granted.json() | {"disabled_at": None} == {
            "id": user.id,
            "email": user.email,
            "credits": 14,
            "disabled": False,
            "disabled_at": None,
        }
        taken = api.post(path, json={"amount": -6, "reason": "  Double  grant,\nundone "})
        assert taken.status_code == 200 and taken.json()["credits"] == 8
        for body in (
            {"amount": -9, "reason": "more than they have"},
            {"amount": 5, "reason": "   "},
            {"amount": 0, "reason": "nothing"},
            {"amount": 1_000_001, "reason": "too many"},
            {"amount": 5},
        ):
            refused = api.post(path, json=body)
            assert refused.status_code == 422, (body, refused.text)
        assert "balance is 8" in api.post(path, json={"amount": -9, "reason": "x"}).text
        assert (
            api.post(
                f"{USERS}/{uuid.uuid4()}/credits", json={"amount": 1, "reason": "x"}
            ).status_code
            == 404
        )
    lines = ledger_of(live_app, user)
    assert [(line["kind"], line["amount"], line["reason"]) for line in lines] == [
        ("grant", -6, "Double grant, undone"),
        ("grant", 10, "Launch promo"),
        ("signup", 4, "Sign-up bonus"),
    ]
    assert [line["balance_after"] for line in lines] == [8, 14, 4]
    with live_app.db.session(read_only=True) as session:
        kinds = session.execute(
            sa.text("SELECT kind, amount FROM credit_entries WHERE user_id = :u ORDER BY id"),
            {"u": user.id},
        ).all()
    assert [tuple(k) for k in kinds] == [("grant", 4), ("grant", 10), ("adjustment", -6)]


def test_the_user_page_grants_and_takes_back_with_a_form(live_app: LiveApp) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=2)
    page = f"/admin/users/{user.id}"
    with signed_in(live_app, admin) as console:
        found = console.page("/admin/users", params={"email": user.email[:12].upper()})
        assert f'href="{page}"' in found.text
        console.page(page)
        done = console.submit(
            f"{page}/credits", {"amount": "3", "reason": "Support: bad result", "action": "grant"}
        )
        assert done.status_code == 303 and done.headers["location"] == f"{page}?done=granted"
        shown = console.page(done.headers["location"]).text
        assert "Credits granted." in shown and "Support: bad result" in shown
        assert re.search(r'id="user-credits">5<', shown)
        refused = console.submit(
            f"{page}/credits", {"amount": "6", "reason": "Too much", "action": "revoke"}
        )
        assert refused.status_code == 422 and "at most 5 can be taken back" in refused.text
        assert 'value="Too much"' in refused.text  # the form keeps what was typed
        for amount in ("-3", "abc", ""):
            bad = console.submit(
                f"{page}/credits", {"amount": amount, "reason": "r", "action": "revoke"}
            )
            assert bad.status_code == 422, amount
        taken = console.submit(
            f"{page}/credits", {"amount": "5", "reason": "Chargeback", "action": "revoke"}
        )
        assert taken.headers["location"] == f"{page}?done=revoked"
        stale = console.submit(
            f"{page}/credits", {"amount": "1", "reason": "x", "action": "grant"}, token="forged"
        )
        assert stale.status_code == 403  # an admin's form still needs the CSRF token
    lines = ledger_of(live_app, user)
    assert [(line["amount"], line["reason"]) for line in lines][:2] == [
        (-5, "Chargeback"),
        (3, "Support: bad result"),
    ]
    with live_app.client(user) as api:
        assert api.get("/api/v1/me").json()["credits"] == 0


def test_a_disabled_user_cannot_log_in_or_use_keys_and_is_logged_out(live_app: LiveApp) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=2)
    with signed_in(live_app, user) as browser:
        assert browser.page("/credits").status_code == 200
        with live_app.client(admin) as api:
            assert api.post(f"{USERS}/{admin.id}/disable").status_code == 422  # not yourself
            disabled = api.post(f"{USERS}/{user.id}/disable")
            assert disabled.status_code == 200 and disabled.json()["disabled"] is True
            assert api.post(f"{USERS}/{user.id}/disable").json()["disabled"] is True  # idempotent
        gone = browser.page("/credits", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        with live_app.client(user) as api:
            assert api.get("/api/v1/me").status_code == 401
        with Browserish(live_app) as again:
            again.http.headers["X-Forwarded-For"] = f"10.9.{uuid.uuid4().int % 250}.1"
            refused = again.login(user.email, PASSWORD)
            assert refused.status_code == 403 and "This account is disabled" in refused.text
            wrong = again.login(user.email, "not the password")
            assert wrong.status_code == 401 and "account is disabled" not in wrong.text
        with signed_in(live_app, admin) as console:
            shown = console.page(f"/admin/users/{user.id}").text
            assert "Disabled" in shown and "Enable account" in shown
            enabled = console.submit(f"/admin/users/{user.id}/enable", {})
            assert enabled.headers["location"] == f"/admin/users/{user.id}?done=enabled"
        with live_app.client(user) as api:
            assert api.get("/api/v1/me").status_code == 200
        assert can_log_in(live_app, user.email, PASSWORD)
        # The session ended by the disable stays ended.
        assert browser.page("/credits", follow_redirects=False).status_code == 303
    with signed_in(live_app, admin) as console:
        ended = console.submit(f"/admin/users/{user.id}/disable", {})
        assert ended.headers["location"] == f"/admin/users/{user.id}?done=disabled"
    assert not can_log_in(live_app, user.email, PASSWORD)
    with live_app.db.session(read_only=True) as session:
        assert session.get_one(User, user.id).disabled_at is not None


def test_a_disabled_supabase_linked_user_is_refused_on_the_seed_endpoints(
    supabase: LiveApp,  # noqa: F811
) -> None:
    admin = an_admin(supabase)
    subject = str(uuid.uuid4())
    signed = bearer(token(sub=subject, email=f"{subject[:8]}@example.com"))
    first = call(supabase, "generate-text-image", {"prompt": "p"}, signed)
    assert first.status_code == 200, first.text
    with supabase.db.session(read_only=True) as session:
        user_id = session.scalar(sa.select(Job.user_id).where(Job.id == first.json()["jobId"]))
    with supabase.client(admin) as api:
        assert api.post(f"{USERS}/{user_id}/disable").status_code == 200
    refused = call(supabase, "generate-text-image", {"prompt": "q"}, signed)
    assert refused.status_code == 401 and "disabled" in refused.json()["error"], refused.text
    with supabase.db.session(read_only=True) as session:
        jobs = session.scalar(sa.select(sa.func.count()).where(Job.user_id == user_id))
    assert jobs == 1


def test_the_reset_link_button_issues_a_working_link(live_app: LiveApp) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=0)
    with signed_in(live_app, admin) as console:
        console.page(f"/admin/users/{user.id}")
        reply = console.submit(f"/admin/users/{user.id}/password-reset", {})
    assert reply.status_code == 200
    (link,) = re.findall(r'id="reset-url"[^>]*value="([^"]+)"', reply.text)
    assert html.unescape(link).startswith(f"{live_app.base_url}/reset-password?token=")


def job_ids_on(console: Browserish, **params: str) -> list[str]:
    reply = console.page("/admin/jobs", params=params)
    assert reply.status_code == 200, reply.text[:300]
    return re.findall(r'<tr id="job-([0-9a-f-]{36})"', reply.text)


def test_jobs_filter_by_status_type_model_email_and_since_and_page(live_app: LiveApp) -> None:
    admin = an_admin(live_app)
    tag = uuid.uuid4().hex[:8]
    user = live_app.user(credits=0)
    with live_app.db.session() as session:
        session.execute(
            sa.update(User).where(User.id == user.id).values(email=f"jobs-{tag}@example.com")
        )
    now = datetime.now(UTC)
    made = add_jobs(
        live_app,
        [
            a_job(user.id, created_at=now - timedelta(minutes=1)),
            a_job(
                user.id,
                status="failed",
                error_code="provider_failed_422",
                error_message="Prompt refused",
                task_id=f"task-{tag}",
                credits_refunded=1,
                created_at=now - timedelta(minutes=2),
            ),
            a_job(
                user.id, type="text-to-video", model="veo3", created_at=now - timedelta(hours=30)
            ),
            a_job(user.id, status="canceled", created_at=now - timedelta(days=10)),
        ],
    )
    recent, failed, video, old = made
    with signed_in(live_app, admin) as console:
        mine = {"email": f"JOBS-{tag}"}
        assert job_ids_on(console, **mine) == made  # newest first
        assert job_ids_on(console, **mine, status="failed") == [failed]
        assert job_ids_on(console, **mine, type="text-to-video") == [video]
        assert job_ids_on(console, **mine, model="veo3") == [video]
        assert job_ids_on(console, **mine, since="1d") == [recent, failed]
        assert job_ids_on(console, **mine, since="7d") == [recent, failed, video]
        assert job_ids_on(console, **mine, since="30d", status="canceled") == [old]
        assert job_ids_on(console, email=f"nobody-{tag}") == []
        shown = console.page("/admin/jobs", params={**mine, "status": "failed"}).text
        assert "provider_failed_422" in shown and "Prompt refused" in shown
        assert f"task-{tag}" in shown and f"jobs-{tag}@example.com" in shown
        detail = console.page(f"/admin/jobs/{failed}")
        assert detail.status_code == 200 and "Prompt refused" in detail.text
        assert console.page(f"/admin/jobs/{uuid.uuid4()}").status_code == 404
        for bad in ({"status": "nope"}, {"type": "nope"}, {"since": "2d"}, {"cursor": "%%"}):
            assert console.page("/admin/jobs", params=bad).status_code == 422, bad

        more = add_jobs(
            live_app,
            [a_job(user.id, created_at=now - timedelta(days=20, seconds=n)) for n in range(52)],
        )
        first = console.page("/admin/jobs", params=mine).text
        page_one = re.findall(r'<tr id="job-([0-9a-f-]{36})"', first)
        (older,) = re.findall(r'href="/admin/jobs\?([^"]+)" rel="next"', first)
        page_two = re.findall(
            r'<tr id="job-([0-9a-f-]{36})"',
            console.page(f"/admin/jobs?{html.unescape(older)}").text,
        )
    assert len(page_one) == 50 and page_one[:3] == [recent, failed, video]
    assert page_one + page_two == [recent, failed, video, old, *more]


def cells(page: str, attribute: str) -> list[str]:
    """The text of each cell of the row whose attribute is as given."""
    match = re.search(rf"<tr [^>]*{re.escape(attribute)}[^>]*>(.*?)</tr>", page, re.S)
    assert match, attribute
    return [
        " ".join(re.sub(r"<[^>]+>", " ", html.unescape(cell)).split())
        for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", match.group(1), re.S)
    ]


def test_spend_matches_the_margin_report_per_model_and_per_day(live_app: LiveApp) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=0)
    model = f"m-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(hour=12)
    today = now if now <= datetime.now(UTC) else now - timedelta(days=1)
    yesterday = today - timedelta(days=1)
    add_jobs(
        live_app,
        [
            a_job(
                user.id,
                model=model,
                credits_charged=3,
                provider_credits_consumed=10.0,
                created_at=today,
            ),
            a_job(
                user.id,
                model=model,
                credits_charged=2,
                provider_credits_consumed=4.5,
                created_at=today,
            ),
            a_job(
                user.id,
                model=model,
                status="failed",
                credits_charged=2,
                credits_refunded=2,
                created_at=yesterday,
            ),
            a_job(
                user.id,
                model=model,
                credits_charged=4,
                provider_credits_consumed=8.0,
                created_at=yesterday,
            ),
            a_job(user.id, model=model, status="processing", credits_charged=9, created_at=today),
            a_job(user.id, model=model, credits_charged=7, created_at=today - timedelta(days=12)),
        ],
    )
    key = f'data-by-model="text-to-image/{model}"'
    with signed_in(live_app, admin) as console:
        week = console.page("/admin/spend", params={"since": "7d"}).text
        month = console.page("/admin/spend", params={"since": "30d"}).text
        assert console.page("/admin/spend", params={"since": "1y"}).status_code == 422
    since = datetime.now(UTC) - timedelta(days=7)
    with live_app.db.session(read_only=True) as session:
        (reported,) = [r for r in margin(session, Catalog.load(), since) if r.model == model]
    # The 7-day row: four finished jobs, 9 credits taken, 22.5 Kie credits ($0.11).
    assert (reported.jobs, reported.completed, reported.credits_taken, reported.kie_credits) == (
        4,
        3,
        9,
        22.5,
    )
    assert cells(week, key) == ["text-to-image", model, "4", "3", "9", "22.5", "$0.11"]
    assert cells(month, key) == ["text-to-image", model, "5", "4", "16", "22.5", "$0.11"]
    day_key = 'data-day="{}" data-model="text-to-image/' + model + '"'
    assert cells(week, day_key.format(today.date().isoformat())) == [
        today.date().isoformat(),
        "text-to-image",
        model,
        "2",
        "2",
        "5",
        "14.5",
        "$0.07",
    ]
    assert cells(week, day_key.format(yesterday.date().isoformat())) == [
        yesterday.date().isoformat(),
        "text-to-image",
        model,
        "2",
        "1",
        "4",
        "8.0",
        "$0.04",
    ]


def test_webhooks_health_lists_endpoints_with_state_and_failures(live_app: LiveApp) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=0)
    tag = uuid.uuid4().hex[:8]
    with live_app.db.session() as session:
        working = WebhookEndpoint(
            user_id=user.id,
            url=f"https://ok-{tag}.example.com/h",
            events=["job.completed"],
            secret="s",
        )
        broken = WebhookEndpoint(
            user_id=user.id,
            url=f"https://gone-{tag}.example.com/h",
            events=["job.failed"],
            secret="s",
            disabled_at=utcnow(),
            disabled_reason="It answered 410 Gone.",
        )
        session.add_all([working, broken])
        session.flush()
        event = WebhookEvent(id=f"msg_{tag}", user_id=user.id, type="job.completed")
        session.add(event)
        session.flush()
        session.add_all(
            [
                WebhookDelivery(event_id=event.id, endpoint_id=working.id, state="delivered"),
                WebhookDelivery(event_id=event.id, endpoint_id=working.id, state="pending"),
                *(
                    WebhookDelivery(
                        event_id=event.id,
                        endpoint_id=broken.id,
                        state="failed",
                        last_error=f"HTTP 410 ({n})",
                    )
                    for n in range(3)
                ),
            ]
        )
        ids = working.id, broken.id
    with signed_in(live_app, admin) as console:
        shown = console.page("/admin/webhooks").text
    ok = cells(shown, f'id="endpoint-{ids[0]}"')
    gone = cells(shown, f'id="endpoint-{ids[1]}"')
    assert ok[0] == user.email and ok[2] == "Active" and ok[3:6] == ["1", "0", "1"]
    assert gone[2].startswith("Disabled") and "It answered 410 Gone." in gone[2]
    assert gone[3:6] == ["0", "3", "0"] and gone[7].startswith("HTTP 410")
