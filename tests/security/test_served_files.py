"""Issue 11 finding 7: every file the service serves (results, posters, uploads, signed links, the
built-in emulator's files) says `X-Content-Type-Options: nosniff` and how to show it
(`Content-Disposition`), and cannot act as a page of ours."""

from __future__ import annotations

import json

import httpx

from tests.fixtures.hostile import report
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp

IMAGE = {"type": "text-to-image", "prompt": "Gold watch on black velvet", "aspect_ratio": "4:5"}
VIDEO = {"type": "text-to-video", "prompt": "Waves at dusk", "aspect_ratio": "16:9"}


def file_urls(live_app: LiveApp, client: httpx.Client) -> dict[str, str]:
    image = live_app.wait_job(client, client.post("/api/v1/jobs", json=IMAGE).json()["id"])
    video = live_app.wait_job(client, client.post("/api/v1/jobs", json=VIDEO).json()["id"])
    assert (image["status"], video["status"]) == ("completed", "completed"), (image, video)
    upload = client.post("/api/v1/uploads", files={"file": ("ref.png", image_bytes())}).json()
    record = live_app.emulator.record(image["task_id"])
    assert record is not None
    emulator_file = httpx.URL(json.loads(record["resultJson"])["resultUrls"][0]).path
    return {
        "result": f"/api/v1/jobs/{image['id']}/result",
        "video": f"/api/v1/jobs/{video['id']}/result",
        "signed link": image["result_url"],
        "poster": video["poster_url"],
        "upload": f"/api/v1/uploads/{upload['id']}/file",
        "emulator result": emulator_file,
    }


def test_every_served_file_is_nosniff_with_a_disposition(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    missing: dict[str, list[str]] = {}
    with live_app.client(user) as client:
        for name, url in file_urls(live_app, client).items():
            reply = client.get(url)
            assert reply.status_code == 200, (name, reply.status_code)
            lacks = [
                h
                for h in ("x-content-type-options", "content-disposition")
                if h not in reply.headers
            ]
            if reply.headers.get("x-content-type-options", "nosniff") != "nosniff":
                lacks.append("x-content-type-options=nosniff")
            if name != "emulator result" and "sandbox" not in reply.headers.get(
                "content-security-policy", ""
            ):
                lacks.append("content-security-policy sandbox")
            if lacks:
                missing[name] = lacks
        static = client.get("/static/app.css")
        if static.headers.get("x-content-type-options") != "nosniff":
            missing["static"] = ["x-content-type-options"]
    assert report(
        "7 file headers",
        "test_every_served_file_is_nosniff_with_a_disposition",
        expected="nosniff + Content-Disposition on results, posters, uploads, links, emulator "
        "files",
        observed=f"missing: {missing}" if missing else "all present",
        passed=not missing,
    ), missing
