"""A job's reference image: an upload of the user's, or the result of their finished image job.

A result used as a source is copied to a new upload of the user's before the job is accepted
(storage only streams, so the copy cannot happen inside the transaction); the job then points at
that upload, so the pipeline and the job page treat both alike, and deleting the parent later
leaves the child's source in place.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from image2ad.catalog import GenerationType, ModelSpec
from image2ad.errors import Conflict, DomainError, InvalidInput, NotFound
from image2ad.jobs import repository
from image2ad.jobs.download import HEAD_BYTES, DownloadRefused, sniff_image
from image2ad.jobs.naming import download_name
from image2ad.jobs.schemas import JobCreate
from image2ad.jobs.status import JobStatus
from image2ad.models import Job, Upload, User
from image2ad.models.base import new_id
from image2ad.runtime import Runtime
from image2ad.storage import cleanup
from image2ad.storage.base import ObjectNotFound
from image2ad.uploads import repository as uploads

TAKES_IMAGE = (GenerationType.IMAGE_TO_IMAGE, GenerationType.IMAGE_TO_VIDEO)


@dataclass(frozen=True)
class ResultCopy:
    """A parent job's result, copied to where an upload of the user's lives (no row yet)."""

    parent_id: str
    parent_key: str
    upload_id: str
    key: str
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    name: str


@dataclass(frozen=True)
class Reference:
    upload_id: str | None
    parent_job_id: str | None


def usable_parent(session: Session, user_id: str, job_id: str) -> Job:
    """The caller's finished image job named by source_job_id: 404 when it is not theirs (or
    gone), 422 when it has no image to give."""
    parent = repository.get_owned(session, job_id, user_id)
    if parent is None:
        raise NotFound("source_job_id names no job of yours.", field="source_job_id")
    if parent.result_type != "image":
        raise InvalidInput(
            "source_job_id names a video job; pass a job whose result is an image.",
            field="source_job_id",
        )
    if parent.status != JobStatus.COMPLETED.value or not parent.result_path:
        raise InvalidInput(
            f"source_job_id names a job that is {parent.status}; pass a completed one.",
            field="source_job_id",
        )
    return parent


def resolve(
    session: Session, user: User, spec: ModelSpec, request: JobCreate, copy: ResultCopy | None
) -> Reference:
    """Check the request's source against the model and record it (the copy's upload row)."""
    if not spec.needs_image:
        for field in ("source_upload_id", "source_job_id"):
            if getattr(request, field):
                raise InvalidInput(f"{spec.type.value} takes no reference image.", field=field)
        return Reference(None, None)
    if request.source_upload_id and request.source_job_id:
        raise InvalidInput(
            "Pass either source_upload_id or source_job_id, not both.", field="source_job_id"
        )
    if request.source_job_id:
        parent = usable_parent(session, user.id, request.source_job_id)
        return Reference(_adopt(session, user.id, parent, copy), parent.id)
    if not request.source_upload_id:
        raise InvalidInput(
            f"{spec.type.value} needs a reference image: upload one and pass source_upload_id, "
            "or pass source_job_id (a completed image job of yours).",
            field="source_upload_id",
        )
    if uploads.get_owned(session, request.source_upload_id, user.id) is None:
        raise InvalidInput("source_upload_id names no upload of yours.", field="source_upload_id")
    return Reference(request.source_upload_id, None)


def _adopt(session: Session, user_id: str, parent: Job, copy: ResultCopy | None) -> str:
    if copy is None or copy.parent_id != parent.id or copy.parent_key != parent.result_path:
        # The parent finished between the copy and this transaction: rare, and a resend works.
        raise Conflict("The source job changed while this request was read; send it again.")
    session.add(
        Upload(
            id=copy.upload_id,
            user_id=user_id,
            storage_key=copy.key,
            content_type=copy.content_type,
            size=copy.size,
            width=copy.width,
            height=copy.height,
            sha256=copy.sha256,
            original_name=copy.name,
        )
    )
    return copy.upload_id


async def copy_parent_result(rt: Runtime, user_id: str, request: JobCreate) -> ResultCopy | None:
    """Copy the result named by source_job_id for the new job; None when there is nothing to
    copy (no such request, or a parent that `resolve` will refuse with the reason)."""
    if not request.source_job_id or request.source_upload_id or request.type not in TAKES_IMAGE:
        return None
    parent = await asyncio.to_thread(_peek_parent, rt, user_id, request.source_job_id)
    if parent is None:
        return None
    parent_id, parent_key, name = parent
    upload_id = new_id()
    suffix = PurePosixPath(parent_key).suffix.lower() or ".png"
    key = f"uploads/{user_id}/{upload_id}{suffix}"
    digest = hashlib.sha256()
    head = bytearray()

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in rt.storage.read(parent_key):
            digest.update(chunk)
            if len(head) < HEAD_BYTES:
                head.extend(chunk[: HEAD_BYTES - len(head)])
            yield chunk

    try:
        stored = await rt.storage.write(key, chunks())
    except ObjectNotFound:
        # Deleted since the look: the transaction then answers 404 for it.
        return None
    try:
        content_type, width, height = sniff_image(bytes(head))
    except DownloadRefused:
        await cleanup.discard(rt.db, rt.storage, [key], "source_copy_unreadable")
        raise InvalidInput(
            "The result of source_job_id is not a readable image.", field="source_job_id"
        ) from None
    return ResultCopy(
        parent_id=parent_id,
        parent_key=parent_key,
        upload_id=upload_id,
        key=key,
        content_type=content_type,
        size=stored.size,
        width=width or 0,
        height=height or 0,
        sha256=digest.hexdigest(),
        name=name,
    )


def _peek_parent(rt: Runtime, user_id: str, job_id: str) -> tuple[str, str, str] | None:
    with rt.db.session(read_only=True) as session:
        try:
            parent = usable_parent(session, user_id, job_id)
        except DomainError:
            return None
        key = str(parent.result_path)
        return parent.id, key, download_name(parent.type, parent.prompt, parent.created_at, key)


async def discard(rt: Runtime, copy: ResultCopy | None) -> None:
    """Remove a copy no job took (a replayed request, or one refused after the copy)."""
    if copy is not None:
        await cleanup.discard(rt.db, rt.storage, [copy.key], "source_copy_unused")
