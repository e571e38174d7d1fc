"""Models Kie will not run: a job on one fails fast as model_unavailable and is refunded, the
mark is shared through the database and shown in /models, new jobs are refused (or routed to
a fallback that costs no more) until a background probe finds the model back."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from image2ad.catalog import Catalog, availability
from image2ad.db import Database
from image2ad.errors import ModelUnavailable
from image2ad.jobs import quotes
from image2ad.jobs.schemas import JobCreate
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

VIDEO = {"type": "text-to-video", "prompt": "A sneaker spinning on a turntable"}


def kling_status(client) -> dict:  # type: ignore[no-untyped-def]
    items = client.get("/api/v1/models", params={"type": "text-to-video"}).json()["items"]
    return next(m for m in items if m["id"] == "kling-3.0/video")


def test_a_paused_model_fails_fast_refunded_and_shows_unavailable_until_back(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=3)
    live_app.emulator.settings.paused_models = frozenset({"kling-3.0/video"})
    with live_app.client(user) as client:
        started = time.monotonic()
        job = client.post("/api/v1/jobs", json=VIDEO).json()
        done = live_app.wait_job(client, job["id"], timeout=15)
        assert time.monotonic() - started < 15
        assert done["status"] == "failed" and done["credits_refunded"] == done["credits_charged"]
        assert done["error"]["code"] == "model_unavailable"
        message = done["error"]["message"]
        assert "Kling 3.0 is paused at Kie" in message and "instead" in message
        assert client.get("/api/v1/me").json()["credits"] == 3

        status = kling_status(client)
        assert not status["available"] and "paused at Kie" in status["unavailable_reason"]
        for path in ("/api/v1/jobs", "/api/v1/quotes"):
            refused = client.post(path, json=VIDEO)
            assert refused.status_code == 409
            assert refused.json()["error"]["code"] == "model_unavailable"
        # Another model of the type still runs.
        other = client.post("/api/v1/jobs", json={**VIDEO, "model": "minimax-h3/text-to-video"})
        assert other.status_code == 202

        live_app.emulator.settings.paused_models = frozenset()
        deadline = time.monotonic() + 30
        while not kling_status(client)["available"]:
            assert time.monotonic() < deadline, "the re-check never found the model back"
            time.sleep(0.2)
        again = live_app.wait_job(client, client.post("/api/v1/jobs", json=VIDEO).json()["id"])
        assert again["status"] == "completed", again
    assert_ledger_invariants(live_app.db, user.id)


def test_maintenance_is_told_apart_from_a_passing_fault(live_app: LiveApp) -> None:
    user = live_app.user()
    live_app.emulator.settings.maintenance_models = frozenset({"google/nano-banana"})
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "p"}).json()
        done = live_app.wait_job(client, job["id"], timeout=15)
    assert done["error"]["code"] == "model_unavailable"
    assert "under maintenance at Kie" in done["error"]["message"]
    assert_ledger_invariants(live_app.db, user.id)


def catalog_with_fallback(tmp_path: Path, fallback: str) -> Catalog:
    path = tmp_path / "catalog.json"
    change = {"type": "text-to-video", "id": "kling-3.0/video", "fallback": fallback}
    path.write_text(json.dumps({"models": [change]}))
    return Catalog.load(path)


def pause_kling(db: Database, catalog: Catalog) -> None:
    kling = catalog.default("text-to-video")
    with db.session() as session:
        availability.mark_unavailable(session, kling, "paused", "paused", timedelta(minutes=5))


def test_a_fallback_that_costs_no_more_takes_the_job(own_db: Database, tmp_path: Path) -> None:
    db = own_db
    catalog = catalog_with_fallback(tmp_path, "bytedance/seedance-2-mini")
    pause_kling(db, catalog)
    request = JobCreate.model_validate({**VIDEO, "aspect_ratio": "portrait", "n_frames": "10"})
    with db.session() as session:
        routed = quotes.quote(session, catalog, request)
    assert routed.model.id == "bytedance/seedance-2-mini"
    assert routed.params["aspect_ratio"] == "9:16" and routed.params["duration"] == 10
    assert routed.credits <= 2  # what Kling would have cost for 10 s


def test_a_dearer_fallback_is_not_used(own_db: Database, tmp_path: Path) -> None:
    db = own_db
    catalog = catalog_with_fallback(tmp_path, "veo3")
    pause_kling(db, catalog)
    with db.session() as session, pytest.raises(ModelUnavailable, match=r"Kling 3\.0 is paused"):
        quotes.quote(session, catalog, JobCreate.model_validate(VIDEO))


def test_marks_are_idempotent_and_cleared(own_db: Database) -> None:
    db = own_db
    catalog = Catalog.load()
    kling = catalog.default("text-to-video")
    with db.session() as session:
        availability.mark_unavailable(session, kling, "paused", "a", timedelta(minutes=5))
    with db.session() as session:
        availability.mark_unavailable(session, kling, "maintenance", "b", timedelta(minutes=5))
    with db.session() as session:
        known = availability.statuses(session)
        assert availability.of(kling, known).kind == "maintenance"
        availability.mark_available(session, kling.provider_model)
    with db.session() as session:
        assert availability.of(kling, availability.statuses(session)).available
