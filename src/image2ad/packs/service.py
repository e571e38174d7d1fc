"""Pack rules: accept a pack (every job charged in one transaction, or none), show it, pick a
winner per placement, delete it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from image2ad.catalog import Catalog
from image2ad.errors import InsufficientCredits, InvalidInput, NotFound
from image2ad.jobs import repository as jobs_repository
from image2ad.jobs import service as jobs
from image2ad.jobs import sources
from image2ad.jobs.status import JobStatus
from image2ad.links import LinkSigner
from image2ad.models import Job, Pack, User
from image2ad.models.base import utcnow
from image2ad.packs import plan, repository
from image2ad.packs.schemas import PackCreate, PackOut, PackQuoteOut, PackStatus, PlannedJob


@dataclass(frozen=True)
class Accepted:
    pack: Pack
    jobs: list[Job]
    created: bool


def request_hash(request: PackCreate) -> str:
    body = {"pack": request.model_dump(mode="json")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def quote(session: Session, catalog: Catalog, request: PackCreate) -> PackQuoteOut:
    planned = plan.plan(session, catalog, request)
    return PackQuoteOut(
        credits=sum(p.quote.credits for p in planned),
        jobs=[
            PlannedJob(
                placement=p.placement.id,
                variant=p.variant,
                model=p.quote.model.id,
                params=p.quote.params,
                credits=p.quote.credits,
            )
            for p in planned
        ],
    )


def create_pack(
    session: Session,
    user: User,
    request: PackCreate,
    *,
    catalog: Catalog,
    deadline: timedelta,
    idempotency_key: str | None = None,
    max_active: int = 20,
    source_copy: sources.ResultCopy | None = None,
) -> Accepted:
    """Insert the pack and all its jobs and charge each, in the caller's one transaction: a
    short balance (402) or any refusal leaves nothing charged."""
    digest = request_hash(request)
    if idempotency_key is not None:
        earlier = jobs.remembered(session, user.id, idempotency_key, digest)
        pack = session.get(Pack, earlier.pack_id) if earlier and earlier.pack_id else None
        if pack is not None:
            return Accepted(pack, _ordered(pack, repository.jobs_of(session, [pack.id])), False)

    planned = plan.plan(session, catalog, request)
    total = sum(p.quote.credits for p in planned)
    if user.credits < total:
        raise InsufficientCredits(
            f"This pack costs {total} credits ({len(planned)} generations); you have "
            f"{user.credits}."
        )
    first = planned[0]
    prompt = first.quote.model.validate_prompt(request.prompt)
    # One reference for every job: a source job's result is copied once, for the pack.
    reference = sources.resolve(session, user, first.quote.model, first.request, source_copy)
    now = utcnow()
    pack = Pack(
        user_id=user.id,
        type=first.quote.model.type.value,
        prompt=prompt,
        model=first.quote.model.id,
        params={k: v for k, v in first.quote.params.items() if k != plan.RATIO_PARAM},
        placements=[p.id for p in plan.placements_of(request)],
        variants=request.variants,
        source_upload_id=reference.upload_id,
        source_job_id=reference.parent_job_id,
        credits_charged=total,
        created_at=now,
    )
    session.add(pack)
    session.flush()
    made = [
        jobs.insert_charged(
            session,
            user,
            p.quote,
            prompt,
            reference,
            deadline=deadline,
            now=now,
            pack_id=pack.id,
            placement=p.placement.id,
            variant=p.variant,
        )
        for p in planned
    ]
    jobs.check_active(session, user, max_active)
    if idempotency_key is not None:
        jobs.remember(session, user.id, idempotency_key, digest, now, pack_id=pack.id)
    session.flush()
    return Accepted(pack, made, True)


def replay_after_race(session: Session, user: User, request: PackCreate, key: str) -> Pack | None:
    """After losing an idempotency-key race, the winner's pack (None if not visible yet)."""
    earlier = jobs.remembered(session, user.id, key, request_hash(request))
    return session.get(Pack, earlier.pack_id) if earlier and earlier.pack_id else None


def get_owned(session: Session, user: User, pack_id: str) -> Pack:
    pack = repository.get_owned(session, pack_id, user.id)
    if pack is None:
        raise NotFound("No such pack.")
    return pack


def status_of(pack_jobs: list[Job]) -> PackStatus:
    states = [JobStatus(j.status) for j in pack_jobs]
    if any(not s.is_terminal for s in states):
        return "processing"
    done = sum(s is JobStatus.COMPLETED for s in states)
    if states and done == len(states):
        return "completed"
    return "partial" if done else "failed"


def _ordered(pack: Pack, pack_jobs: list[Job]) -> list[Job]:
    rank = {p: i for i, p in enumerate(pack.placements)}
    return sorted(pack_jobs, key=lambda j: (rank.get(j.placement or "", 99), j.variant or 0))


def to_out(pack: Pack, pack_jobs: list[Job], signer: LinkSigner) -> PackOut:
    ordered = _ordered(pack, pack_jobs)
    return PackOut(
        id=pack.id,
        status=status_of(ordered),
        type=pack.type,
        prompt=pack.prompt,
        model=pack.model,
        params=pack.params,
        placements=pack.placements,
        variants=pack.variants,
        source_upload_id=pack.source_upload_id,
        source_job_id=pack.source_job_id,
        credits_charged=pack.credits_charged,
        created_at=pack.created_at,
        jobs=[jobs.to_out(j, signer) for j in ordered],
    )


def show(session: Session, user: User, pack_id: str, signer: LinkSigner) -> PackOut:
    pack = get_owned(session, user, pack_id)
    return to_out(pack, repository.jobs_of(session, [pack.id]), signer)


def list_packs(
    session: Session, user: User, signer: LinkSigner, *, cursor: str | None, limit: int
) -> tuple[list[PackOut], str | None]:
    before = jobs.decode_cursor(cursor) if cursor else None
    rows = repository.list_for_user(session, user.id, before=before, limit=limit + 1)
    page = rows[:limit]
    by_pack: dict[str, list[Job]] = {p.id: [] for p in page}
    for job in repository.jobs_of(session, list(by_pack)):
        by_pack[str(job.pack_id)].append(job)
    next_cursor = jobs.encode_cursor(page[-1]) if len(rows) > limit else None
    return [to_out(p, by_pack[p.id], signer) for p in page], next_cursor


def pick(session: Session, user: User, pack_id: str, job_id: str) -> None:
    """Star `job_id` as its placement's winner and unstar the placement's other variants."""
    pack = get_owned(session, user, pack_id)
    pack_jobs = repository.jobs_of(session, [pack.id])
    winner = next((j for j in pack_jobs if j.id == job_id), None)
    if winner is None:
        raise InvalidInput("job_id names no job of this pack.", field="job_id")
    for job in pack_jobs:
        if job.id == winner.id and job.starred_at is None:
            jobs_repository.set_starred(session, job.id, utcnow())
        elif job.id != winner.id and job.placement == winner.placement:
            jobs_repository.set_starred(session, job.id, None)


def hide(
    session: Session, user: User, pack_id: str, *, refund_after_submit: bool = True
) -> list[str]:
    """Delete a pack and its jobs (unfinished ones canceled as by DELETE /jobs/{id}); returns
    the storage keys to remove."""
    pack = get_owned(session, user, pack_id)
    keys: list[str] = []
    for job in repository.jobs_of(session, [pack.id]):
        keys += jobs.hide(session, user, job.id, refund_after_submit=refund_after_submit)
    repository.mark_deleted(session, pack.id, utcnow())
    return keys
