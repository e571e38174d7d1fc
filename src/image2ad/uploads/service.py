"""Reference-image uploads: checked by content, re-encoded, stored under a server-made key."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from image2ad.errors import NotFound
from image2ad.models import Upload, User
from image2ad.models.base import new_id
from image2ad.runtime import Runtime
from image2ad.storage import cleanup
from image2ad.uploads import repository
from image2ad.uploads.images import clean
from image2ad.uploads.schemas import UploadOut

_UNSAFE = re.compile(r"[^\w .()-]+")
DECODE_SLOTS = 2
_decoders = ThreadPoolExecutor(DECODE_SLOTS, thread_name_prefix="image-decode")


def display_name(filename: str | None) -> str:
    """A harmless label from the client's file name; storage keys never use it."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", name).strip(" .")[:255]


def to_out(upload: Upload) -> UploadOut:
    return UploadOut(
        id=upload.id,
        content_type=upload.content_type,
        size=upload.size,
        width=upload.width,
        height=upload.height,
        created_at=upload.created_at,
    )


async def create(rt: Runtime, user: User, data: bytes, filename: str | None) -> UploadOut:
    # Decodes wait for one of a few threads of their own: the memory they may take is bounded
    # (DECODE_BUDGET_BYTES each), and the shared threads stay free for the database.
    image = await asyncio.get_running_loop().run_in_executor(_decoders, clean, data)
    upload_id = new_id()
    key = f"uploads/{user.id}/{upload_id}.{image.extension}"

    async def chunks() -> AsyncIterator[bytes]:
        yield image.data

    await rt.storage.write(key, chunks())

    def save() -> UploadOut:
        with rt.db.session() as session:
            upload = Upload(
                id=upload_id,
                user_id=user.id,
                storage_key=key,
                content_type=image.content_type,
                size=len(image.data),
                width=image.width,
                height=image.height,
                sha256=hashlib.sha256(image.data).hexdigest(),
                original_name=display_name(filename),
            )
            session.add(upload)
            session.flush()
            return to_out(upload)

    try:
        return await asyncio.to_thread(save)
    except BaseException:
        await cleanup.discard(rt.db, rt.storage, [key], "upload_not_saved")
        raise


def get_owned(rt: Runtime, user: User, upload_id: str) -> Upload:
    with rt.db.session(read_only=True) as session:
        upload = repository.get_owned(session, upload_id, user.id)
    if upload is None:
        raise NotFound("No such upload.")
    return upload
