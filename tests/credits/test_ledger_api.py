"""`GET /credits/ledger` and `/credits/ledger.csv`: every change to a balance, newest first, in
words; the amounts sum to `/me` credits after every way money moves, deleted jobs included."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from image2ad.credits import repository
from image2ad.credits import service as credits
from image2ad.models import CreditKind
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import TestUser, assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Cold brew can on ice, SUMMER SALE"}


def lines(client: httpx.Client, limit: int = 3) -> list[dict[str, Any]]:
    """Every line, page by page: each once, newest first."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/credits/ledger", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == limit
    ids = [item["id"] for item in items]
    assert ids == sorted(set(ids), reverse=True)
    return items


def balance(client: httpx.Client) -> int:
    return int(client.get("/api/v1/me").json()["credits"])


def assert_sums(live_app: LiveApp, client: httpx.Client, user: TestUser) -> list[dict[str, Any]]:
    """The lines add up to the balance, and each `balance_after` to its line and the older ones."""
    items = lines(client)
    assert sum(item["amount"] for item in items) == balance(client)
    running = 0
    for item in reversed(items):
        running += item["amount"]
        assert item["balance_after"] == running, item
    assert_ledger_invariants(live_app.db, user.id)
    return items


def create(client: httpx.Client, prompt: str = BODY["prompt"]) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json={**BODY, "prompt": prompt})
    assert response.status_code == 202, response.text
    return dict(response.json())


def wait_task(client: httpx.Client, job_id: str) -> str:
    wait_until(lambda: client.get(f"/api/v1/jobs/{job_id}").json()["task_id"], timeout=20)
    return str(client.get(f"/api/v1/jobs/{job_id}").json()["task_id"])


@pytest.fixture
def slow_images(live_app: LiveApp) -> Iterator[None]:
    live_app.emulator.settings.image_duration_s = 60
    yield


def by_job(items: list[dict[str, Any]], job_id: str) -> dict[str, dict[str, Any]]:
    return {item["kind"]: item for item in items if item["job_id"] == job_id}


def test_each_money_move_is_a_line_and_the_lines_sum_to_the_balance(live_app: LiveApp) -> None:
    user = live_app.user(credits=10)
    with live_app.client(user) as client:
        (signup,) = assert_sums(live_app, client, user)
        assert signup["kind"] == "signup" and signup["amount"] == 10
        assert signup["reason"] == "Sign-up bonus" and signup["job_id"] is None
        assert signup["job_deleted"] is False

        done = create(client, "Cold brew can on ice,\n  SUMMER SALE with a very long tail of words")
        assert live_app.wait_job(client, done["id"])["status"] == "completed"
        charge = by_job(assert_sums(live_app, client, user), done["id"])["charge"]
        assert charge["amount"] == -done["credits_charged"] == -1
        # The prompt in one line, cut at 60 characters.
        assert charge["reason"] == (
            "Text to Image: Cold brew can on ice, SUMMER SALE with a very long tail of…"
        )
        assert (charge["job_type"], charge["job_deleted"]) == ("text-to-image", False)
        assert charge["job_prompt"].startswith("Cold brew can on ice,\n")

        live_app.emulator.settings.image_duration_s = 60
        failing = create(client, "Rejected poster")
        live_app.emulator.force_fail(wait_task(client, failing["id"]), "422", "Prohibited")
        assert live_app.wait_job(client, failing["id"])["status"] == "failed"
        failed = by_job(assert_sums(live_app, client, user), failing["id"])
        assert set(failed) == {"charge", "refund"}
        assert failed["refund"]["amount"] == 1
        assert failed["refund"]["reason"] == "Refund: The model turned the request down"

        canceled = create(client, "Canceled flyer")
        assert client.post(f"/api/v1/jobs/{canceled['id']}/cancel").status_code == 200
        refund = by_job(assert_sums(live_app, client, user), canceled["id"])["refund"]
        assert refund["reason"] == "Refund: Canceled by you"

        # Deleting a finished job and a running one: the lines stay, marked deleted.
        running = create(client, "Deleted while it runs")
        for job_id in (done["id"], running["id"]):
            assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204
        items = assert_sums(live_app, client, user)
        assert by_job(items, done["id"])["charge"]["job_deleted"] is True
        gone = by_job(items, running["id"])
        assert set(gone) == {"charge", "refund"}
        assert gone["refund"]["reason"] == "Refund: Deleted while running"
        assert gone["charge"]["reason"] == "Text to Image: Deleted while it runs"
        assert all(line["job_deleted"] for line in gone.values())

        pack = client.post(
            "/api/v1/packs", json={**BODY, "placements": ["feed", "story"], "variants": 1}
        )
        assert pack.status_code == 202, pack.text
        pack_jobs = [job["id"] for job in pack.json()["jobs"]]
        assert client.delete(f"/api/v1/packs/{pack.json()['id']}").status_code == 204
        items = assert_sums(live_app, client, user)
        for job_id in pack_jobs:
            assert set(by_job(items, job_id)) == {"charge", "refund"}
        assert balance(client) == 10 - 1


def test_grants_and_adjustments_are_grant_lines(live_app: LiveApp) -> None:
    user = live_app.user(credits=0)
    env = {**os.environ, "IMAGE2AD_DATABASE_URL": live_app.db.url}
    granted = subprocess.run(
        [sys.executable, "-m", "image2ad", "credits", "grant", user.email, "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert granted.returncode == 0, granted.stderr
    with live_app.db.session() as session:
        credits.grant(session, user.id, 2, note="Launch promo")
        repository.add_entry(session, user_id=user.id, kind=CreditKind.ADJUSTMENT, amount=-3)
    with live_app.client(user) as client:
        adjustment, promo, cli = assert_sums(live_app, client, user)
        assert balance(client) == 3
    assert (cli["kind"], cli["amount"], cli["reason"]) == (
        "grant",
        4,
        "Credits added by the operator",
    )
    assert (promo["kind"], promo["amount"], promo["reason"]) == ("grant", 2, "Launch promo")
    assert (adjustment["kind"], adjustment["amount"]) == ("grant", -3)
    assert adjustment["reason"] == "Adjustment by the operator"
    assert adjustment["balance_after"] == 3 and cli["balance_after"] == 4


@pytest.fixture
def keep_policy(live_app: LiveApp) -> Iterator[LiveApp]:
    settings = live_app.app.state.runtime.settings
    settings.cancel_after_submit = "keep"
    try:
        yield live_app
    finally:
        settings.cancel_after_submit = "refund"


def test_a_cancel_that_keeps_the_credit_leaves_only_the_charge(
    keep_policy: LiveApp, slow_images: None
) -> None:
    live_app = keep_policy
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = create(client)
        wait_task(client, job["id"])
        assert client.post(f"/api/v1/jobs/{job['id']}/cancel").json()["credits_refunded"] == 0
        assert set(by_job(assert_sums(live_app, client, user), job["id"])) == {"charge"}
        assert balance(client) == 1


def test_paging_moves_through_every_line_once(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.db.session() as session:
        for n in range(1, 8):
            credits.grant(session, user.id, n, note=f"grant {n}")
    with live_app.client(user) as client:
        first = client.get("/api/v1/credits/ledger", params={"limit": 3}).json()
        assert [i["reason"] for i in first["items"]] == ["grant 7", "grant 6", "grant 5"]
        assert [i["balance_after"] for i in first["items"]] == [29, 22, 16]
        second = client.get(
            "/api/v1/credits/ledger", params={"limit": 3, "cursor": first["next_cursor"]}
        ).json()
        assert [i["reason"] for i in second["items"]] == ["grant 4", "grant 3", "grant 2"]
        assert [i["balance_after"] for i in second["items"]] == [11, 7, 4]
        last = client.get(
            "/api/v1/credits/ledger", params={"limit": 3, "cursor": second["next_cursor"]}
        ).json()
        assert [i["kind"] for i in last["items"]] == ["grant", "signup"]
        assert last["next_cursor"] is None
        assert len(client.get("/api/v1/credits/ledger").json()["items"]) == 8
        for params in (
            {"limit": 0},
            {"limit": 101},
            {"cursor": "abc"},
            {"cursor": "-1"},
            {"cursor": "²"},
            {"cursor": "9" * 19},
        ):
            response = client.get("/api/v1/credits/ledger", params=params)
            assert response.status_code == 422, params
            assert response.json()["error"]["code"] == "invalid_input"


def test_the_csv_is_the_whole_ledger_with_formulas_defused(live_app: LiveApp) -> None:
    user = live_app.user(credits=5)
    with live_app.db.session() as session:
        credits.grant(session, user.id, 1, note='=HYPERLINK("https://example.com","x")')
        credits.grant(session, user.id, 1, note="@SUM(A1:A2)")
        credits.grant(session, user.id, 1, note="+1")
    with live_app.client(user) as client:
        job = create(client, "-2+3 deal")
        live_app.wait_job(client, job["id"])
        response = client.get("/api/v1/credits/ledger.csv")
        items = lines(client, limit=100)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="image2ad-credits-20')
    assert disposition.endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["date", "kind", "amount", "reason", "job_id", "balance_after"]
    assert [int(r["amount"]) for r in rows] == [i["amount"] for i in items] == [-1, 1, 1, 1, 5]
    assert [int(r["balance_after"]) for r in rows] == [7, 8, 7, 6, 5]
    assert [r["kind"] for r in rows] == ["charge", "grant", "grant", "grant", "signup"]
    assert [r["reason"] for r in rows[1:4]] == [
        "'+1",
        "'@SUM(A1:A2)",
        '\'=HYPERLINK("https://example.com","x")',
    ]
    assert rows[0]["reason"] == "Text to Image: -2+3 deal" and rows[0]["job_id"] == job["id"]
    assert [datetime.strptime(r["date"], "%Y-%m-%dT%H:%M:%SZ") for r in rows] == [
        datetime.fromisoformat(i["created_at"]).astimezone(UTC).replace(tzinfo=None, microsecond=0)
        for i in items
    ]


def test_the_csv_streams_page_by_page(live_app: LiveApp) -> None:
    """More lines than one page holds: every line once, in order."""
    from image2ad.credits import export

    user = live_app.user(credits=1)
    with live_app.db.session() as session:
        for _ in range(6):
            credits.grant(session, user.id, 1)
    chunks = list(export.lines(live_app.db, user.id, page_size=4))
    # One chunk per page: the header and 4 lines, then the other 3.
    assert [chunk.count("\r\n") for chunk in chunks] == [5, 3]
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [int(r["balance_after"]) for r in rows] == [7, 6, 5, 4, 3, 2, 1]
    assert [r["reason"] for r in rows] == ["Credits added"] * 6 + ["Sign-up bonus"]


def test_only_your_own_lines_and_a_login_is_needed(live_app: LiveApp) -> None:
    owner, other = live_app.user(credits=3), live_app.user(credits=2)
    with live_app.client(owner) as client:
        job = create(client)
    with live_app.client(other) as client:
        items = lines(client)
        assert [(i["kind"], i["amount"]) for i in items] == [("signup", 2)]
        assert job["id"] not in client.get("/api/v1/credits/ledger.csv").text
    with live_app.client() as anonymous:
        for path in ("/api/v1/credits/ledger", "/api/v1/credits/ledger.csv"):
            response = anonymous.get(path)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(("credits_", "low"), [(0, True), (2, True), (3, False), (10, False)])
def test_me_says_when_credits_are_low(live_app: LiveApp, credits_: int, low: bool) -> None:
    user = live_app.user(credits=credits_)
    with live_app.client(user) as client:
        me = client.get("/api/v1/me").json()
    assert (me["credits"], me["credits_low"]) == (credits_, low)


def test_the_low_threshold_is_a_setting(live_app: LiveApp) -> None:
    settings = live_app.app.state.runtime.settings
    user = live_app.user(credits=2)
    try:
        settings.credits_low_threshold = 0
        with live_app.client(user) as client:
            assert client.get("/api/v1/me").json()["credits_low"] is False
        settings.credits_low_threshold = 5
        with live_app.client(user) as client:
            assert client.get("/api/v1/me").json()["credits_low"] is True
    finally:
        settings.credits_low_threshold = 3
