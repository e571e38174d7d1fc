"""The delivery workflow: post one event to one endpoint until it answers 2xx, on a schedule.

One workflow per delivery (its id derived from the delivery id and its workflow attempt, so a
second start is a no-op). Each attempt is two steps: `send_attempt` signs and posts (never
raises: its outcome is data) and `record_attempt` writes the outcome and decides the pause,
taken with a durable sleep so the schedule survives restarts. A re-run send repeats the POST
with the same `webhook-id`; receivers dedupe on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

from dbos import DBOS, Queue, SetWorkflowID

from image2ad.faults import crash_point
from image2ad.jobs import repository as jobs
from image2ad.jobs import service as job_service
from image2ad.jobs.pipeline.steps import db_step
from image2ad.jobs.stuck import LIVE
from image2ad.models.base import utcnow
from image2ad.net.errors import FetchError, FetchRefused
from image2ad.net.safe_post import PostPolicy, post
from image2ad.runtime import Runtime, current
from image2ad.webhooks import repository, signing
from image2ad.webhooks.schemas import DeliveryState

log = logging.getLogger(__name__)

QUEUE = "webhook-deliver"
# Posts in flight per process; the rest wait their turn (their attempts are not spent).
MAX_SENDING = 32
ERROR_CHARS = 300
queues: dict[str, Queue] = {}
_sending: dict[int, asyncio.Semaphore] = {}


def use_queue(queue: Queue) -> None:
    """Called once the engine registered the queue (registration needs a launched DBOS)."""
    queues[queue.name] = queue


def workflow_id(delivery_id: str, attempt: int = 0) -> str:
    return f"webhook-{delivery_id}" if attempt == 0 else f"webhook-{delivery_id}-{attempt}"


def payload(event_type: str, created_at: Any, data: dict[str, Any]) -> str:
    timestamp = created_at.isoformat().replace("+00:00", "Z")
    body = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _prepare(rt: Runtime, delivery_id: str) -> dict[str, Any]:
    """What to send, read fresh at each attempt (the job's result link is signed for now)."""
    with rt.db.session(read_only=True) as session:
        parts = repository.delivery_parts(session, delivery_id)
        if parts is None:
            return {"skip": "The endpoint was deleted."}
        delivery, endpoint, event = parts
        if delivery.state != DeliveryState.PENDING.value:
            return {"skip": None}
        if endpoint.disabled_at is not None:
            return {"skip": "The endpoint is disabled."}
        data = event.data or {}
        if event.job_id is not None:
            job = jobs.get(session, event.job_id)
            if job is None:
                return {"skip": "The job no longer exists."}
            data = job_service.to_out(job, rt.signer).model_dump(mode="json")
        return {
            "url": endpoint.url,
            "secret": endpoint.secret,
            "event_id": event.id,
            "body": payload(event.type, event.created_at, data),
            "seen": delivery.attempts,
        }


@DBOS.step(name="webhook_send")
async def send_attempt(delivery_id: str) -> dict[str, Any]:
    """Sign and POST the event once. No retries of its own: the workflow's schedule retries."""
    rt = current()
    try:
        prepared = await asyncio.to_thread(_prepare, rt, delivery_id)
    except Exception as exc:
        log.warning("webhook delivery %s: could not read the event: %s", delivery_id, exc)
        return {
            "status": None,
            "error": "The event could not be read; retried later.",
            "seen": None,
        }
    if "skip" in prepared:
        return {"skip": prepared["skip"]}
    settings = rt.settings.webhooks
    body: str = prepared["body"]
    headers = signing.headers(prepared["secret"], prepared["event_id"], utcnow(), body)
    policy = PostPolicy(timeout_s=settings.timeout_s, allow_private=settings.allow_private)
    outcome: dict[str, Any] = {"status": None, "error": None, "seen": prepared["seen"]}
    try:
        async with _semaphore():
            answer = await post(prepared["url"], body.encode(), headers, policy)
    except FetchRefused as exc:
        outcome["error"] = f"Refused: {exc}"
    except FetchError as exc:
        outcome["error"] = str(exc) or type(exc).__name__
    except Exception as exc:
        log.exception("webhook delivery %s: unexpected error", delivery_id)
        outcome["error"] = f"Unexpected error: {type(exc).__name__}"
    else:
        # Sent and answered, not yet checkpointed: a re-run posts again with the same id.
        crash_point("W2")
        outcome["status"] = answer.status
        if not 200 <= answer.status < 300:
            excerpt = answer.body.decode("utf-8", "replace").strip()
            outcome["error"] = f"HTTP {answer.status}" + (f": {excerpt}" if excerpt else "")
    if outcome["error"]:
        outcome["error"] = outcome["error"][:ERROR_CHARS]
    return outcome


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    semaphore = _sending.get(id(loop))
    if semaphore is None:
        semaphore = _sending[id(loop)] = asyncio.Semaphore(MAX_SENDING)
    return semaphore


@db_step("webhook_record")
async def record_attempt(
    delivery_id: str, outcome: dict[str, Any], delays: list[float]
) -> float | None:
    """Write the attempt's outcome; the pause before the next one, or None when it is over."""
    return await asyncio.to_thread(_record, current(), delivery_id, outcome, delays)


def _record(
    rt: Runtime, delivery_id: str, outcome: dict[str, Any], delays: list[float]
) -> float | None:
    now = utcnow()
    with rt.db.session() as session:
        parts = repository.delivery_parts(session, delivery_id)
        if parts is None:
            return None
        delivery, endpoint, _ = parts
        if delivery.state != DeliveryState.PENDING.value:
            return None
        if "skip" in outcome:
            repository.update_pending(
                session,
                delivery_id,
                state=DeliveryState.FAILED.value,
                last_error=outcome["skip"],
                next_attempt_at=None,
            )
            return None
        seen = outcome.get("seen")
        if seen is not None and seen != delivery.attempts:
            # This step ran before and committed (a re-run after a crash): go on from the row.
            due = delivery.next_attempt_at or now
            return max(0.0, (due - now).total_seconds())
        attempts = delivery.attempts + 1
        status: int | None = outcome["status"]
        done = {"attempts": attempts, "last_status": status, "next_attempt_at": None}
        if status is not None and 200 <= status < 300:
            repository.update_pending(
                session,
                delivery_id,
                state=DeliveryState.DELIVERED.value,
                delivered_at=now,
                last_error=None,
                **done,
            )
            repository.note_success(session, endpoint.id, now)
            return None
        error = outcome["error"]
        if status == 410:
            repository.update_pending(
                session, delivery_id, state=DeliveryState.FAILED.value, last_error=error, **done
            )
            repository.disable_endpoint(
                session, endpoint.id, "The endpoint answered 410 Gone.", now
            )
            return None
        if attempts > len(delays):
            repository.update_pending(
                session, delivery_id, state=DeliveryState.FAILED.value, last_error=error, **done
            )
            if endpoint.last_success_at is None or endpoint.last_success_at < delivery.created_at:
                span = _span(sum(delays))
                repository.disable_endpoint(
                    session,
                    endpoint.id,
                    f"No delivery succeeded for {span} ({attempts} attempts; last: {error}).",
                    now,
                )
            return None
        wait = float(delays[attempts - 1])
        repository.update_pending(
            session,
            delivery_id,
            attempts=attempts,
            last_status=status,
            last_error=error,
            next_attempt_at=now + timedelta(seconds=wait),
        )
        return wait


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


@DBOS.workflow(name="deliver_webhook")
async def deliver_webhook(delivery_id: str, delays: list[float]) -> None:
    while True:
        outcome = await send_attempt(delivery_id)
        wait = await record_attempt(delivery_id, outcome, delays)
        if wait is None:
            return
        await DBOS.sleep_async(wait)


async def start(rt: Runtime, delivery_id: str, attempt: int = 0) -> None:
    """Start the delivery's workflow unless one is live; a workflow that ended with the
    delivery still pending (its steps failed past their retries) is replaced by a new attempt,
    which goes on with the schedule where the row says it is."""
    state = await _workflow_state(workflow_id(delivery_id, attempt))
    if state in LIVE:
        await asyncio.to_thread(_mark_enqueued, rt, delivery_id)
        return
    if state is not None:
        claimed = await asyncio.to_thread(_claim, rt, delivery_id, attempt)
        if not claimed:
            return
        attempt += 1
        log.warning(
            "webhook delivery %s: workflow ended (%s); attempt %d", delivery_id, state, attempt
        )
    delays = [float(d) for d in rt.settings.webhooks.retry_delays_s]
    with SetWorkflowID(workflow_id(delivery_id, attempt)):
        await queues[QUEUE].enqueue_async(deliver_webhook, delivery_id, delays)
    await asyncio.to_thread(_mark_enqueued, rt, delivery_id)


async def _workflow_state(wid: str) -> str | None:
    status = await DBOS.get_workflow_status_async(wid)
    return None if status is None else str(status.status)


def _mark_enqueued(rt: Runtime, delivery_id: str) -> None:
    with rt.db.session() as session:
        repository.mark_enqueued(session, delivery_id, utcnow())


def _claim(rt: Runtime, delivery_id: str, seen: int) -> bool:
    with rt.db.session() as session:
        return repository.claim_workflow_attempt(session, delivery_id, seen)
