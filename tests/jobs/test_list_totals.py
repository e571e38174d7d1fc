"""`GET /jobs?include_total=true`: how many jobs match the filters, on every page."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.live_app import LiveApp


def listing(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/jobs", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_total_counts_what_the_filters_match_on_every_page(live_app: LiveApp) -> None:
    user, other = live_app.user(credits=6), live_app.user(credits=1)
    # Slow tasks: the canceled job must still be unfinished when it is canceled.
    live_app.emulator.settings.image_duration_s = 30
    with live_app.client(other) as client:
        client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Spring boots"})
    with live_app.client(user) as client:
        assert listing(client, include_total="true") == {
            "items": [],
            "next_cursor": None,
            "total": 0,
        }
        ids = [
            client.post(
                "/api/v1/jobs", json={"type": "text-to-image", "prompt": f"Spring boots {n}"}
            ).json()["id"]
            for n in range(4)
        ]
        client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Winter coat"})
        canceled = client.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Autumn scarf"}
        ).json()["id"]
        assert client.post(f"/api/v1/jobs/{canceled}/cancel").status_code == 200
        client.put(f"/api/v1/jobs/{ids[1]}/star")
        client.delete(f"/api/v1/jobs/{ids[0]}")

        assert "total" not in listing(client)
        assert "total" not in listing(client, include_total="false")
        first = listing(client, include_total="true", limit=2)
        assert first["total"] == 5 and len(first["items"]) == 2
        second = listing(client, include_total="true", limit=2, cursor=first["next_cursor"])
        assert second["total"] == 5
        assert listing(client, include_total="true", q="spring")["total"] == 3
        assert listing(client, include_total="true", status="canceled")["total"] == 1
        assert listing(client, include_total="true", type="text-to-video")["total"] == 0
        assert listing(client, include_total="true", starred="true")["total"] == 1
        assert listing(client, include_total="true", q="spring", starred="true")["total"] == 1
