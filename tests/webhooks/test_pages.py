"""The Webhooks page over HTTP as a browser drives it: forms need the page's CSRF token, and
another user's endpoint or delivery is 404 with nothing changed."""

from __future__ import annotations

from tests.fixtures.live_app import LiveApp
from tests.web.session import signed_in
from tests.webhooks.helpers import add_endpoint, finished_job, wait_deliveries
from tests.webhooks.receiver import receiver


def test_forms_need_the_csrf_token(hooks: LiveApp) -> None:
    user = hooks.user()
    with signed_in(hooks, user) as browser:
        browser.page("/settings/webhooks")
        form = {"url": "https://hooks.example.com/x", "events": "job.failed"}
        refused = browser.submit("/settings/webhooks", form, token="")
        assert refused.status_code == 403
        created = browser.submit("/settings/webhooks", form)
        assert created.status_code == 201
        assert "whsec_" in created.text
        listing = browser.page("/settings/webhooks")
        assert "https://hooks.example.com/x" in listing.text and "whsec_" not in listing.text


def test_another_users_endpoint_is_404_on_the_page(hooks: LiveApp) -> None:
    owner, stranger = hooks.user(), hooks.user()
    with receiver() as hook, hooks.client(owner) as api, signed_in(hooks, stranger) as browser:
        endpoint = add_endpoint(api, hook.url, ["job.completed"])
        finished_job(hooks, api)
        (delivered,) = wait_deliveries(
            api, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
        )
        browser.page("/settings/webhooks")
        base = f"/settings/webhooks/{endpoint['id']}"
        redeliver = f"{base}/deliveries/{delivered['id']}/redeliver"
        assert browser.submit(redeliver, {}).status_code == 404
        assert browser.submit(f"{base}/delete", {}).status_code == 404
        assert hook.url not in browser.page("/settings/webhooks").text
        assert [e["id"] for e in api.get("/api/v1/webhooks").json()["items"]] == [endpoint["id"]]
        assert len(api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()["items"]) == 1
        assert len(hook.requests) == 1
