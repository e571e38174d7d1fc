"""Answering a request with a stored file (results, uploads), whatever the store."""

from __future__ import annotations

import asyncio
import os

from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from image2ad.errors import NotFound
from image2ad.storage.base import ObjectNotFound, Storage, presigned_url

# A served file is never a document of ours: no script, no plugin, no same-origin access, even
# when opened directly; and always taken for the type we say.
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


async def serve_object(
    storage: Storage, key: str, content_type: str, filename: str | None = None
) -> Response:
    """A stored file as the answer to a request whose right to it was checked: from disk with
    Range support, as a redirect to a presigned link, or streamed. `filename` is the name a
    browser saves it as (default: the key's last part); a presigned link keeps the object's."""
    filename = filename or key.rsplit("/", 1)[-1]
    path = storage.local_path(key)
    if path is not None:
        if not await asyncio.to_thread(os.path.isfile, path):
            raise NotFound("The stored result is missing.")
        # FileResponse answers Range requests, so browsers can seek in videos.
        return FileResponse(
            path,
            media_type=content_type,
            filename=filename,
            content_disposition_type="inline",
            headers=FILE_HEADERS,
        )
    url = await presigned_url(storage, key)
    if url is not None:
        # A remote store serves the bytes (and Range requests) itself through a link that
        # expires within minutes; the caller's right to the object was checked before this.
        # The object carries its Content-Type and Content-Disposition from its upload
        # (storage/s3.py): the presigned URL cannot add response-* overrides.
        return RedirectResponse(url, status_code=307, headers=FILE_HEADERS)
    try:
        size = await storage.size(key)
    except ObjectNotFound:
        raise NotFound("The stored result is missing.") from None
    return StreamingResponse(
        storage.read(key),
        media_type=content_type,
        headers={
            **FILE_HEADERS,
            "Content-Length": str(size),
            "Content-Disposition": f'inline; filename="{filename}"',
        },
    )
