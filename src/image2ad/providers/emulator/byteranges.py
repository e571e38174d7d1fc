"""Single-range HTTP Range requests over in-memory files (RFC 9110 §14), as browsers send."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

_SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(ValueError):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) bytes asked for, or None to answer with the whole file.

    Multiple ranges and malformed headers are ignored, which RFC 9110 allows.
    """
    match = _SINGLE_RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(0) == "bytes=-":
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(int(last), size - 1) if last else size - 1


def file_response(
    request: Request, data: bytes, media_type: str, etag: str, filename: str
) -> Response:
    """200 with the whole file, 206 with the requested part, or 416 past its end."""
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f"inline; filename*=utf-8''{quote(filename, safe='')}",
    }
    if_range = request.headers.get("if-range")
    # A stale If-Range (another ETag, or a date: we send no Last-Modified) means "send it all".
    wanted = request.headers.get("range") if if_range in (None, etag) else None
    try:
        span = byte_range(wanted, len(data))
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{len(data)}"
        return Response(status_code=416, headers=headers)
    if span is None:
        return Response(data, media_type=media_type, headers=headers)
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
    return Response(data[first : last + 1], status_code=206, media_type=media_type, headers=headers)
