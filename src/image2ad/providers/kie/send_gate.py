"""One global pace for Kie's createTask calls, across every process.

Kie refuses a 21st createTask inside any 10 s (a moving window per account). The durable
queue's limiter bounds how many submit workflows *start* per window, but each start reaches its
send after database steps of varying length, so sends from three workers still arrived bunched
and were refused (504 refusals for 300 jobs in bench.burst). Here every send reserves the next
free moment in one database row and waits for it: sends leave evenly spaced, a little wider
than period / limit, whichever process makes them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from image2ad.db import Database
from image2ad.models import SendGate
from image2ad.models.base import utcnow
from image2ad.observability import events

# Spacing slack: absorbs the jitter between a reserved moment and the call reaching Kie.
MARGIN = 1.01
CREATE = "kie-create"


@dataclass(frozen=True)
class Gate:
    """A named pace: one send per `gap`, across every process."""

    name: str
    gap: timedelta


def spacing(limit: int, period_s: float) -> timedelta:
    return timedelta(seconds=period_s / max(1, limit) * MARGIN)


def reserve(db: Database, name: str, gap: timedelta) -> datetime:
    """The moment this caller may send; the next caller gets it plus `gap`.

    A row lock (PostgreSQL) or the write lock (SQLite) makes the read-and-advance atomic. The
    row is created on first use; two first users racing to create it retry once.
    """
    for _ in range(2):
        try:
            with db.session() as session:
                now = utcnow()
                gate = session.get(SendGate, name, with_for_update=True)
                if gate is None:
                    gate = SendGate(name=name, next_at=now)
                    session.add(gate)
                slot = max(now, gate.next_at)
                gate.next_at = slot + gap
            return slot
        except IntegrityError:
            continue
    raise RuntimeError(f"send gate {name!r} could not be created")


async def wait_turn(db: Database, name: str, gap: timedelta) -> None:
    started = time.monotonic()
    slot = await asyncio.to_thread(reserve, db, name, gap)
    delay = (slot - utcnow()).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)
    events.pace_waited(time.monotonic() - started)
