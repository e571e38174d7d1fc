"""The global createTask pace: every reservation gets its own moment, evenly spaced."""

from __future__ import annotations

import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from image2ad.db import Database
from image2ad.models.base import utcnow
from image2ad.providers.kie import send_gate


def test_spacing_is_a_little_wider_than_the_limit_allows() -> None:
    gap = send_gate.spacing(20, 10.0).total_seconds()
    assert 0.5 < gap <= 0.51


def test_concurrent_reservations_are_distinct_and_evenly_spaced(db: Database) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    gap = timedelta(milliseconds=250)
    started = utcnow()
    with ThreadPoolExecutor(8) as pool:
        slots = sorted(pool.map(lambda _: send_gate.reserve(db, name, gap), range(24)))
    assert started <= slots[0] <= started + timedelta(seconds=5)
    assert [later - earlier for earlier, later in itertools.pairwise(slots)] == [gap] * 23


def test_an_idle_gate_does_not_make_the_next_send_wait(db: Database) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    send_gate.reserve(db, name, timedelta(milliseconds=1))
    before = utcnow()
    assert send_gate.reserve(db, name, timedelta(milliseconds=1)) >= before
    assert send_gate.reserve(db, name, timedelta(seconds=1)) - utcnow() < timedelta(seconds=1)
