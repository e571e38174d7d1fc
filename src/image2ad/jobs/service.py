"""Job rules: accepting a job (charge + idempotency in one transaction) and finishing it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from image2ad.catalog import Catalog, GenerationType, Quote
from image2ad.credits import service as credits
from image2ad.errors import (
    Conflict,
    IdempotencyMismatch,
    InvalidInput,
    NotFound,
    TooManyActiveJobs,
)
from image2ad.jobs import queueing, quotes, repository, sources
from image2ad.jobs.schemas import JobCreate, JobError, JobList, JobOut
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.links import LinkSigner
from image2ad.models import IdempotencyKey, Job, UsageEvent, User
from image2ad.models.base import utcnow
from image2ad.webhooks import outbox

IDEMPOTENCY_TTL = timedelta(hours=24)
# The API starts the submit workflow right after commit; this is only the safety net for a
# process that died between the commit and the enqueue.
SUBMIT_SAFETY_NET = timedelta(seconds=30)


@dataclass(frozen=True)
class Accepted:
    job: Job
    created: bool


def request_hash(request: JobCreate) -> str:
    # The fields added later are left out while unset, so older keys still match their bodies.
    later = ("model", "params", "source_job_id")
    unset = {name for name in later if getattr(request, name) is None}
    body = request.model_dump(mode="json", exclude=unset)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_job(
    session: Session,
    user: User,
    request: JobCreate,
    *,
    catalog: Catalog,
    deadline: timedelta,
    idempotency_key: str | None = None,
    max_active: int = 20,
    source_copy: sources.ResultCopy | None = None,
) -> Accepted:
    """Validate, insert the job, charge it and remember the idempotency key, all in one unit.

    `source_copy` is the parent's result copied for a request with source_job_id."""
    digest = request_hash(request)
    if idempotency_key is not None:
        earlier = remembered(session, user.id, idempotency_key, digest)
        job = repository.get(session, earlier.job_id) if earlier and earlier.job_id else None
        if job is not None:
            return Accepted(job=job, created=False)

    priced = quotes.quote(session, catalog, request)
    prompt = priced.model.validate_prompt(request.prompt)
    reference = sources.resolve(session, user, priced.model, request, source_copy)
    now = utcnow()
    job = insert_charged(session, user, priced, prompt, reference, deadline=deadline, now=now)
    check_active(session, user, max_active)
    if idempotency_key is not None:
        remember(session, user.id, idempotency_key, digest, now, job_id=job.id)
    session.flush()
    return Accepted(job=job, created=True)


def remembered(session: Session, user_id: str, key: str, digest: str) -> IdempotencyKey | None:
    """The live record of an Idempotency-Key for this body (422 when the key was used with
    another body); an expired one is forgotten so the key can be used again."""
    existing = repository.get_idempotency(session, user_id, key)
    if existing is None:
        return None
    if existing.expires_at > utcnow():
        if existing.request_hash != digest:
            raise IdempotencyMismatch(
                "This Idempotency-Key was used with a different request body."
            )
        return existing
    repository.delete_idempotency(session, existing.id)
    session.flush()
    return None


def remember(
    session: Session,
    user_id: str,
    key: str,
    digest: str,
    now: datetime,
    *,
    job_id: str | None = None,
    pack_id: str | None = None,
) -> None:
    """Record an Idempotency-Key and what it made, for IDEMPOTENCY_TTL."""
    session.add(
        IdempotencyKey(
            user_id=user_id,
            key=key,
            request_hash=digest,
            job_id=job_id,
            pack_id=pack_id,
            created_at=now,
            expires_at=now + IDEMPOTENCY_TTL,
        )
    )


def insert_charged(
    session: Session,
    user: User,
    priced: Quote,
    prompt: str,
    reference: sources.Reference,
    *,
    deadline: timedelta,
    now: datetime,
    **extra: Any,
) -> Job:
    """Add a pending job for `priced` and charge it (402 when the balance is short)."""
    spec = priced.model
    job = Job(
        user_id=user.id,
        type=spec.type.value,
        status=JobStatus.PENDING.value,
        stage=JobStage.QUEUED.value,
        prompt=prompt,
        params=priced.params,
        model=spec.id,
        result_type=spec.result_type,
        source_upload_id=reference.upload_id,
        parent_job_id=reference.parent_job_id,
        credits_charged=priced.credits,
        callback_secret=secrets.token_urlsafe(24),
        submit_attempts=1,
        next_check_at=now + SUBMIT_SAFETY_NET,
        deadline_at=now + deadline,
        created_at=now,
        updated_at=now,
        **extra,
    )
    session.add(job)
    session.flush()
    credits.charge_for_job(session, user_id=user.id, job_id=job.id, amount=priced.credits)
    # After the charge: its lock on the user row orders a user's racing creates, so each
    # sees the other's tag.
    job.queue_tag = queueing.next_tag(session, user.id)
    outbox.credits_charged(session, user.id, priced.credits)
    return job


def check_active(session: Session, user: User, max_active: int) -> None:
    """429 when the user now has more than `max_active` unfinished jobs. Called after the
    charge: its row lock on the user serializes a user's racing creates."""
    if repository.count_active(session, user.id) > max_active:
        raise TooManyActiveJobs(
            f"You have {max_active} generations in progress; wait for one to finish.",
            headers={"Retry-After": "5"},
        )


def replay_after_race(session: Session, user: User, request: JobCreate, key: str) -> Job | None:
    """After losing an idempotency-key race, the winner's job (None if it is not visible yet)."""
    existing = repository.get_idempotency(session, user.id, key)
    if existing is None:
        return None
    if existing.request_hash != request_hash(request):
        raise IdempotencyMismatch("This Idempotency-Key was used with a different request body.")
    return repository.get(session, existing.job_id) if existing.job_id else None


def get_owned(session: Session, user: User, job_id: str) -> Job:
    job = repository.get_owned(session, job_id, user.id)
    if job is None:
        raise NotFound("No such job.")
    return job


def fail_and_refund(
    session: Session,
    job_id: str,
    *,
    code: str,
    message: str,
    status: JobStatus = JobStatus.FAILED,
    provider_credits: float | None = None,
    refund: bool = True,
) -> bool:
    """End a job as failed/canceled and return its credits, once; False if it already ended.

    `refund=False` ends it keeping the charge (a cancel after Kie accepted the task, under
    IMAGE2AD_CANCEL_AFTER_SUBMIT=keep).
    """
    job = repository.get(session, job_id)
    if job is None:
        return False
    now = utcnow()
    if not repository.transition(
        session,
        job_id,
        status,
        error_code=code,
        error_message=message[:2000],
        completed_at=now,
        next_check_at=None,
        credits_refunded=job.credits_charged if refund else 0,
        provider_credits_consumed=provider_credits,
        updated_at=now,
    ):
        return False
    if refund:
        credits.refund_for_job(
            session, user_id=job.user_id, job_id=job.id, amount=job.credits_charged
        )
    _record_usage(
        session, job, outcome=status.value, finished=now, provider_credits=provider_credits
    )
    outbox.job_ended(session, job, status.value)
    return True


def complete(
    session: Session,
    job_id: str,
    *,
    result_path: str,
    content_type: str,
    size: int,
    width: int | None,
    height: int | None,
    duration_s: float | None = None,
    poster_path: str | None = None,
    provider_credits: float | None = None,
    result_sha256: str | None = None,
) -> bool:
    job = repository.get(session, job_id)
    if job is None:
        return False
    now = utcnow()
    if not repository.transition(
        session,
        job_id,
        JobStatus.COMPLETED,
        stage=None,
        progress=100,
        result_path=result_path,
        result_content_type=content_type,
        result_size=size,
        result_width=width,
        result_height=height,
        result_duration_s=duration_s,
        poster_path=poster_path,
        result_sha256=result_sha256,
        completed_at=now,
        next_check_at=None,
        provider_credits_consumed=provider_credits,
        updated_at=now,
    ):
        return False
    _record_usage(
        session, job, outcome="completed", finished=now, provider_credits=provider_credits
    )
    outbox.job_ended(session, job, JobStatus.COMPLETED.value)
    return True


def completed_with(session: Session, job_id: str, result_path: str) -> bool:
    """Whether the job already completed with this result (a step re-run after its commit)."""
    job = repository.get(session, job_id)
    return (
        job is not None
        and job.status == JobStatus.COMPLETED.value
        and job.result_path == result_path
    )


def _record_usage(
    session: Session,
    job: Job,
    *,
    outcome: str,
    finished: datetime,
    provider_credits: float | None,
) -> None:
    repository.add_usage_event(
        session,
        UsageEvent(
            job_id=job.id,
            user_id=job.user_id,
            type=job.type,
            model=job.model,
            outcome=outcome,
            credits=job.credits_charged if outcome == "completed" else 0,
            duration_ms=int((finished - job.created_at).total_seconds() * 1000),
            provider_task_id=job.task_id,
            provider_credits_consumed=provider_credits,
        ),
    )


def to_out(job: Job, signer: LinkSigner, place: queueing.Place | None = None) -> JobOut:
    error = (
        JobError(code=job.error_code, message=job.error_message or "") if job.error_code else None
    )
    result_url = poster_url = None
    if job.status == JobStatus.COMPLETED.value and job.result_path:
        result_url = f"/api/v1/files/{signer.sign(job.id, job.result_path)}"
        if job.poster_path:
            poster_url = f"/api/v1/files/{signer.sign(job.id, job.poster_path)}"
    return JobOut(
        id=job.id,
        type=job.type,
        status=job.status,
        stage=job.stage,
        progress=job.progress,
        prompt=job.prompt,
        params=job.params,
        model=job.model,
        task_id=job.task_id,
        result_type=job.result_type,
        result_path=job.result_path,
        result_url=result_url,
        poster_url=poster_url,
        result_content_type=job.result_content_type,
        result_width=job.result_width,
        result_height=job.result_height,
        result_duration_s=job.result_duration_s,
        source_image_url=job.source_image_url,
        source_upload_id=job.source_upload_id,
        parent_job_id=job.parent_job_id,
        starred=job.starred_at is not None,
        pack_id=job.pack_id,
        placement=job.placement,
        variant=job.variant,
        result_sha256=job.result_sha256,
        error=error,
        queue_position=place.position if place else None,
        estimated_start_at=place.estimated_start_at if place else None,
        credits_charged=job.credits_charged,
        credits_refunded=job.credits_refunded,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
    )


class _Listed(Protocol):
    id: str
    created_at: datetime


def encode_cursor(row: _Listed) -> str:
    """A page cursor after `row` (a job or a pack) in newest-first order."""
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        return datetime.fromisoformat(created).astimezone(UTC), job_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid.", field="cursor") from None


def to_outs(
    session: Session, jobs: Sequence[Job], signer: LinkSigner, queue: queueing.SendQueue
) -> list[JobOut]:
    """`to_out` for each job, waiting ones with their place in the createTask queue."""
    placed = queueing.places(session, jobs, queue, utcnow())
    return [to_out(job, signer, placed.get(job.id)) for job in jobs]


def to_out_placed(
    session: Session, job: Job, signer: LinkSigner, queue: queueing.SendQueue
) -> JobOut:
    return to_outs(session, [job], signer, queue)[0]


def list_jobs(
    session: Session,
    user: User,
    signer: LinkSigner,
    queue: queueing.SendQueue,
    *,
    type_: str | None,
    status: str | None,
    query: str | None,
    cursor: str | None,
    limit: int,
    starred: bool = False,
    include_total: bool = False,
) -> JobList:
    """A page of the user's jobs, newest first; `total` counts every page when asked."""
    before = decode_cursor(cursor) if cursor else None
    filters = repository.JobFilter(type_=type_, status=status, query=query, starred=starred)
    rows = repository.list_for_user(session, user.id, filters, before=before, limit=limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    total = repository.count_for_user(session, user.id, filters) if include_total else None
    items = to_outs(session, page, signer, queue)
    return JobList(items=items, next_cursor=next_cursor, total=total)


def unfinished(
    session: Session, user: User, signer: LinkSigner, queue: queueing.SendQueue, limit: int
) -> list[JobOut]:
    return to_outs(session, repository.unfinished_for_user(session, user.id, limit), signer, queue)


def cancel(session: Session, user: User, job_id: str, *, refund_after_submit: bool = True) -> Job:
    """Stop tracking an unfinished job. Kie has no cancel: once it accepted the task (the job
    has a task id), the task runs on and is paid for, so the credit comes back only if
    `refund_after_submit` (IMAGE2AD_CANCEL_AFTER_SUBMIT); before that, always."""
    job = get_owned(session, user, job_id)
    if JobStatus(job.status).is_terminal:
        raise Conflict(f"This job is already {job.status}.")
    refund = refund_after_submit or job.task_id is None
    if not fail_and_refund(
        session,
        job.id,
        code="canceled",
        message=(
            "Canceled by you. Your credit was returned."
            if refund
            else "Canceled by you. The generation had already started, so its credit is kept."
        ),
        status=JobStatus.CANCELED,
        refund=refund,
    ):
        session.refresh(job)
        raise Conflict(f"This job is already {job.status}.")
    session.refresh(job)
    return job


def set_starred(session: Session, user: User, job_id: str, starred: bool) -> Job:
    """Star or unstar one of the user's jobs; doing it twice changes nothing."""
    job = get_owned(session, user, job_id)
    repository.set_starred(session, job.id, utcnow() if starred else None)
    session.refresh(job)
    return job


def recipe(job: Job) -> JobCreate:
    """The request that makes the same generation again."""
    return JobCreate(
        type=GenerationType(job.type),
        prompt=job.prompt,
        model=job.model,
        params=dict(job.params),
        source_upload_id=job.source_upload_id,
    )


def hide(
    session: Session, user: User, job_id: str, *, refund_after_submit: bool = True
) -> list[str]:
    """Delete a job from the user's view (canceling it if unfinished, refunded as by `cancel`);
    returns keys to remove, its renditions' files included."""
    from image2ad.brand import repository as renditions

    job = get_owned(session, user, job_id)
    if not JobStatus(job.status).is_terminal:
        fail_and_refund(
            session,
            job.id,
            code="canceled",
            message="Deleted while running.",
            status=JobStatus.CANCELED,
            refund=refund_after_submit or job.task_id is None,
        )
    keys = [k for k in (job.result_path, job.poster_path) if k]
    keys += renditions.delete_of_job(session, job.id)
    repository.mark_deleted(session, job.id, utcnow())
    return keys
