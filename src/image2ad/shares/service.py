"""The rules of share links: whose targets may be shared, and what a token opens."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from image2ad import placements
from image2ad.auth.session_store import token_hash
from image2ad.errors import DomainError, InvalidInput, NotFound
from image2ad.jobs.status import JobStatus
from image2ad.models import Job, Share, User
from image2ad.models.base import utcnow
from image2ad.placements import Placement
from image2ad.shares import names, repository
from image2ad.shares.schemas import ShareCreate, ShareOut

GONE = (
    "This link does not work: whoever shared it turned it off or removed what it showed, "
    "or the address is not complete."
)
EXPIRED = "This link has expired. Ask whoever shared it for a new one."


class ShareExpired(DomainError):
    status_code = 410
    code = "share_expired"


def link(public_url: str, token: str) -> str:
    """The public page of `token`, on the site's configured address (never the request's Host)."""
    return f"{public_url}/s/{token}"


def create(session: Session, user: User, body: ShareCreate) -> tuple[Share, str]:
    """Store a new link to the user's completed job or pack; returns it and its token (the
    only time the token is seen)."""
    if body.job_id is not None:
        job = repository.live_job(session, body.job_id, user.id)
        if job is None:
            raise NotFound("No such job.")
        if job.status != JobStatus.COMPLETED.value or not job.result_path:
            raise InvalidInput("Only a finished result can be shared.", field="job_id")
    elif body.pack_id is not None and repository.owned_pack(session, body.pack_id, user.id) is None:
        raise NotFound("No such pack.")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    share = repository.add(
        session,
        Share(
            user_id=user.id,
            job_id=body.job_id,
            pack_id=body.pack_id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(seconds=body.expires_in_s),
        ),
    )
    return share, token


def to_out(share: Share) -> ShareOut:
    return ShareOut(
        id=share.id,
        job_id=share.job_id,
        pack_id=share.pack_id,
        created_at=share.created_at,
        expires_at=share.expires_at,
    )


def list_active(
    session: Session, user: User, *, job_id: str | None, pack_id: str | None
) -> list[ShareOut]:
    shares = repository.active(session, user.id, utcnow(), job_id=job_id, pack_id=pack_id)
    return [to_out(share) for share in shares]


def revoke(session: Session, user: User, share_id: str) -> None:
    """Turn the link off at once. Revoking a revoked link of yours changes nothing."""
    share = repository.owned(session, share_id, user.id)
    if share is None:
        raise NotFound("No such share link.")
    if share.revoked_at is None:
        share.revoked_at = utcnow()
        session.flush()


@dataclass(frozen=True)
class SharedResult:
    """One result as the public page shows it: nothing of the prompt, model or owner."""

    job_id: str
    ready: bool
    result_type: str
    key: str | None
    content_type: str
    poster_key: str | None
    width: int | None
    height: int | None
    duration_s: float | None
    placement: Placement | None
    variant: int | None
    file_name: str
    modified: datetime
    size: int | None


@dataclass(frozen=True)
class Group:
    placement: Placement | None
    results: list[SharedResult]


@dataclass(frozen=True)
class Shared:
    """What a live token opens: one result, or a pack's results grouped by placement."""

    is_pack: bool
    created_at: datetime
    expires_at: datetime
    results: list[SharedResult]
    # A pack's placements in the order it asked for them.
    placement_order: tuple[str, ...] = ()

    @property
    def ready(self) -> list[SharedResult]:
        return [r for r in self.results if r.ready]

    @property
    def groups(self) -> list[Group]:
        order = [*self.placement_order, *placements.PLACEMENTS]
        keyed: dict[str | None, list[SharedResult]] = {}
        for result in self.results:
            keyed.setdefault(result.placement.id if result.placement else None, []).append(result)
        ordered = sorted(keyed, key=lambda p: order.index(p) if p in order else len(order))
        return [
            Group(placements.PLACEMENTS.get(p or ""), sorted(keyed[p], key=_by_variant))
            for p in ordered
        ]

    def result(self, job_id: str) -> SharedResult:
        for result in self.results:
            if result.job_id == job_id and result.ready:
                return result
        raise NotFound(GONE)


def _by_variant(result: SharedResult) -> int:
    return result.variant or 0


def open_token(session: Session, token: str) -> Shared:
    """What `token` shows now: 404 when it is unknown, revoked or its target is gone, 410 once
    it has expired."""
    share = repository.by_token_hash(session, token_hash(token))
    if share is None or share.revoked_at is not None:
        raise NotFound(GONE)
    if share.expires_at <= utcnow():
        raise ShareExpired(EXPIRED)
    if share.job_id is not None:
        job = repository.live_job(session, share.job_id, share.user_id)
        if job is None or not _finished(job):
            raise NotFound(GONE)
        return Shared(
            is_pack=False,
            created_at=job.created_at,
            expires_at=share.expires_at,
            results=[_shown(job)],
        )
    assert share.pack_id is not None  # the table's check constraint: one target
    pack = repository.owned_pack(session, share.pack_id, share.user_id)
    if pack is None:
        raise NotFound(GONE)
    jobs = repository.pack_jobs(session, pack.id, share.user_id)
    return Shared(
        is_pack=True,
        created_at=pack.created_at,
        expires_at=share.expires_at,
        results=_pack_results(jobs),
        placement_order=tuple(pack.placements),
    )


def _pack_results(jobs: Sequence[Job]) -> list[SharedResult]:
    # Failed and canceled jobs are left out: the page shows what exists or is on its way.
    unfinished = (JobStatus.PENDING.value, JobStatus.PROCESSING.value)
    return [_shown(job) for job in jobs if _finished(job) or job.status in unfinished]


def _finished(job: Job) -> bool:
    return job.status == JobStatus.COMPLETED.value and job.result_path is not None


def _shown(job: Job) -> SharedResult:
    key = job.result_path if _finished(job) else None
    return SharedResult(
        job_id=job.id,
        ready=key is not None,
        result_type=job.result_type,
        key=key,
        content_type=job.result_content_type or "application/octet-stream",
        poster_key=job.poster_path,
        width=job.result_width,
        height=job.result_height,
        duration_s=job.result_duration_s,
        placement=placements.PLACEMENTS.get(job.placement or ""),
        variant=job.variant,
        file_name=names.result_name(job),
        modified=job.completed_at or job.created_at,
        size=job.result_size,
    )
