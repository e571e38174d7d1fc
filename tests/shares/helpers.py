"""What the share tests make: finished jobs over the API, packs as rows (the packs API is
built elsewhere), and a logged-out visitor."""

from __future__ import annotations

from typing import Any

import httpx

from image2ad.models import Job, Pack
from tests.fixtures.factories import TestUser
from tests.fixtures.live_app import LiveApp

PROMPT = "Secret launch: citrus soda on a sunny rooftop"


def finished_job(
    live_app: LiveApp, client: httpx.Client, type_: str = "text-to-image", prompt: str = PROMPT
) -> dict[str, Any]:
    reply = client.post("/api/v1/jobs", json={"type": type_, "prompt": prompt})
    assert reply.status_code == 202, reply.text
    job = live_app.wait_job(client, reply.json()["id"])
    assert job["status"] == "completed", job
    return job


def share(client: httpx.Client, **body: Any) -> dict[str, Any]:
    reply = client.post("/api/v1/shares", json=body)
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


def make_pack(live_app: LiveApp, user: TestUser, members: list[tuple[str, str, int]]) -> str:
    """A pack of `user` holding these jobs as (job id, placement, variant)."""
    with live_app.db.session() as session:
        pack = Pack(
            user_id=user.id,
            type="text-to-image",
            prompt=PROMPT,
            model="nano-banana",
            params={},
            placements=list(dict.fromkeys(placement for _, placement, _ in members)),
            variants=max((variant for _, _, variant in members), default=1),
        )
        session.add(pack)
        session.flush()
        for job_id, placement, variant in members:
            job = session.get_one(Job, job_id)
            job.pack_id, job.placement, job.variant = pack.id, placement, variant
        return pack.id


def visitor(live_app: LiveApp) -> httpx.Client:
    """A browser with no account and no cookies, following nothing by itself."""
    return httpx.Client(base_url=live_app.base_url, timeout=30)


def path_of(url: str, live_app: LiveApp) -> str:
    assert url.startswith(f"{live_app.base_url}/s/"), url
    return url.removeprefix(live_app.base_url)
