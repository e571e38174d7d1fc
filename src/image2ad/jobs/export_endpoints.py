"""HTTP for downloading several results as one ZIP (the work is in jobs/export.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from image2ad.deps import CurrentUser, RuntimeDep
from image2ad.errors import COMMON_ERRORS
from image2ad.jobs import export
from image2ad.runtime import Runtime
from image2ad.storage.serving import FILE_HEADERS
from image2ad.throttle import limit_api

router = APIRouter(
    prefix="/api/v1", tags=["jobs"], dependencies=[Depends(limit_api)], responses=COMMON_ERRORS
)


@router.get(
    "/results.zip",
    response_class=Response,
    responses={
        200: {
            "description": "The archive, streamed as it is written",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def results_zip(
    user: CurrentUser,
    rt: RuntimeDep,
    ids: Annotated[
        str,
        Query(
            description=f"1 to {export.MAX_IDS} ids of your completed jobs, comma-separated "
            "(a repeated id counts once)",
            examples=["3f1c1a52-9d0e-4a8e-8a53-0d6f3f7d2c11,9b2e4d7a-1c3f-4e5a-9f0b-2a6c8d1e3f57"],
        ),
    ],
) -> Response:
    """Download the results of several jobs as one ZIP, each file named as its own download
    (a repeated name gets ` (2)`). Every job must be yours and completed, or nothing is sent
    (404). A result missing from storage is left out and named in `missing-results.txt`."""
    wanted = export.parse_ids(ids)

    def load() -> list[export.Entry]:
        with rt.db.session(read_only=True) as session:
            return export.entries(session, user.id, wanted)

    return zip_response(rt, await asyncio.to_thread(load), export.archive_name())


def zip_response(rt: Runtime, members: list[export.Entry], filename: str) -> StreamingResponse:
    """The members as one ZIP download, streamed as it is written."""
    return StreamingResponse(
        export.zip_stream(rt.storage, members),
        media_type="application/zip",
        headers={
            **FILE_HEADERS,
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
