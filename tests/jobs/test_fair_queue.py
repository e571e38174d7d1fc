"""The shared createTask pace is shared fairly: users take turns (jobs/queueing.py), a user's
own jobs keep their order, and a waiting job shows its place and estimated start."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta

import httpx

from image2ad.dbutil import insert_ignore_conflict
from image2ad.jobs.engine import create_in_flight
from image2ad.models import SendGate
from image2ad.models.base import utcnow
from image2ad.providers.kie import send_gate
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

HEAVY = 14


def _post(client: httpx.Client, prompt: str) -> str:
    response = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": prompt})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def _send_order(live_app: LiveApp, prefix: str, since: float = 0.0) -> list[str]:
    """Prompts starting with `prefix`, in the order their createTask reached the emulator."""
    tasks = [
        t
        for t in live_app.emulator.tasks.values()
        if t.input["prompt"].startswith(prefix) and t.created_at >= since
    ]
    return [t.input["prompt"] for t in sorted(tasks, key=lambda t: t.created_at)]


def _hold_gate(live_app: LiveApp, until: datetime) -> None:
    with live_app.db.session() as session:
        insert_ignore_conflict(
            session,
            SendGate.__table__,  # type: ignore[arg-type]
            {"name": send_gate.CREATE, "next_at": until},
        )
        session.get_one(SendGate, send_gate.CREATE).next_at = until


def test_a_light_users_first_job_goes_out_before_a_heavy_users_queue(live_app: LiveApp) -> None:
    heavy, light = live_app.user(credits=HEAVY), live_app.user(credits=1)
    tag = f"fair {heavy.id[:8]}"
    with live_app.client(heavy) as heavy_client, live_app.client(light) as light_client:
        heavy_ids = [_post(heavy_client, f"{tag} heavy {n:02d}") for n in range(HEAVY)]
        light_posted = time.time()
        light_id = _post(light_client, f"{tag} light")
        finished = [live_app.wait_job(heavy_client, job_id, timeout=90) for job_id in heavy_ids]
        finished.append(live_app.wait_job(light_client, light_id, timeout=90))
    assert [job["status"] for job in finished] == ["completed"] * (HEAVY + 1)
    in_flight = create_in_flight(20, 10.0)
    # A user's queue keeps its order; only the few submissions in flight together race to
    # their send slots.
    order = _send_order(live_app, tag)
    heavy_order = [int(p.rsplit(" ", 1)[1]) for p in order if "heavy" in p]
    assert all(abs(sent - n) < in_flight for sent, n in enumerate(heavy_order)), heavy_order
    # First come, first served would send it after every heavy job still waiting. Ahead of it
    # may be only the submissions in flight when it arrived, the heavy user's job at the head
    # of the queue, and one more started between its commit and its enqueue.
    since_light = _send_order(live_app, tag, since=light_posted)
    assert len(since_light) > in_flight + 3, "the heavy queue had drained: nothing was shown"
    assert since_light.index(f"{tag} light") <= in_flight + 2, since_light
    assert_ledger_invariants(live_app.db, heavy.id)
    assert_ledger_invariants(live_app.db, light.id)


def test_waiting_jobs_show_their_place_and_estimated_start(live_app: LiveApp) -> None:
    heavy, light = live_app.user(credits=6), live_app.user(credits=2)
    gap = send_gate.spacing(20, 10.0)
    in_flight = create_in_flight(20, 10.0)
    # No send for a few seconds: the first submissions wait at the gate, the rest in the queue.
    _hold_gate(live_app, utcnow() + timedelta(seconds=12))
    with live_app.client(heavy) as heavy_client, live_app.client(light) as light_client:
        heavy_ids = [_post(heavy_client, f"placed heavy {n}") for n in range(6)]
        light_ids = [_post(light_client, f"placed light {n}") for n in range(2)]
        clients = {
            **dict.fromkeys(heavy_ids, heavy_client),
            **dict.fromkeys(light_ids, light_client),
        }

        def snapshot() -> dict[str, dict[str, object]]:
            return {job_id: c.get(f"/api/v1/jobs/{job_id}").json() for job_id, c in clients.items()}

        wait_until(
            lambda: sum(j["status"] == "processing" for j in snapshot().values()) == in_flight,
            timeout=10,
        )
        started = time.monotonic()
        jobs = snapshot()
        waiting = {i: j for i, j in jobs.items() if j["status"] == "pending"}
        assert time.monotonic() - started < 5, "the gate opened before the snapshot was read"
        assert len(waiting) == len(clients) - in_flight
        for job in jobs.values():
            if job["status"] != "pending":
                assert job["queue_position"] is None and job["estimated_start_at"] is None
        ranked = sorted(waiting.values(), key=lambda j: j["queue_position"])
        assert [j["queue_position"] for j in ranked] == list(range(1, len(waiting) + 1))
        for ids in (heavy_ids, light_ids):
            mine = [waiting[i]["queue_position"] for i in ids if i in waiting]
            assert mine == sorted(mine), "a user's own jobs are placed out of order"
        # The light user's first waiting job is next but one at most: turns, not arrival order
        # (behind it, in arrival order, are up to five of the heavy user's).
        first_light = [waiting[i] for i in light_ids if i in waiting]
        if first_light:
            assert first_light[0]["queue_position"] <= 2
        starts = [datetime.fromisoformat(str(j["estimated_start_at"])) for j in ranked]
        assert starts[0] >= utcnow() + timedelta(seconds=1)
        for before, after in itertools.pairwise(starts):
            assert after - before == gap
        listed = heavy_client.get("/api/v1/jobs", params={"status": "pending"}).json()["items"]
        assert {j["id"]: j["queue_position"] for j in listed} == {
            i: waiting[i]["queue_position"] for i in heavy_ids if i in waiting
        }
        for job_id, client in clients.items():
            assert live_app.wait_job(client, job_id, timeout=60)["status"] == "completed"
