"""Routes of the upload host (kie-api.md §6) and the temp-file host that serves uploads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from image2ad.providers.emulator.auth import guarded, read_json_object, upload_error
from image2ad.providers.emulator.byteranges import file_response
from image2ad.providers.emulator.media import TEMPFILE_PREFIX, local_file
from image2ad.providers.emulator.state import EmulatorState
from image2ad.providers.emulator.uploads import (
    MAX_FILE_BYTES,
    StoredFile,
    UploadRejected,
    clean_file_name,
    clean_upload_path,
    guess_mime,
)

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,]*)?;base64,", re.IGNORECASE)


def _account_folder(account: str) -> str:
    # Kie puts uploads under a numeric account id; derive a stable one from the key.
    return str(100_000 + int(hashlib.sha256(account.encode()).hexdigest()[:8], 16) % 900_000)


class UploadApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        s = self.state
        return [
            Route(
                "/api/file-stream-upload",
                guarded(s, "fileStreamUpload", self.stream_upload, upload_host=True),
                methods=["POST"],
            ),
            Route(
                "/api/file-base64-upload",
                guarded(s, "fileBase64Upload", self.base64_upload, upload_host=True),
                methods=["POST"],
            ),
            Route(
                "/api/file-url-upload",
                guarded(s, "fileUrlUpload", self.url_upload, upload_host=True),
                methods=["POST"],
            ),
            Route(TEMPFILE_PREFIX + "{path:path}", self.serve_upload, methods=["GET"]),
        ]

    def _store(
        self, account: str, upload_path: object, file_name: object, data: bytes, mime: str | None
    ) -> JSONResponse:
        folder = clean_upload_path(upload_path)
        name = clean_file_name(file_name, mime)
        path = f"kieai/{_account_folder(account)}/{folder}/{name}"
        stored = self.state.uploads.put(path, name, data, guess_mime(name, mime))
        return self._uploaded(stored)

    def _uploaded(self, stored: StoredFile) -> JSONResponse:
        uploaded_at = datetime.fromtimestamp(stored.uploaded_at_ms / 1000, tz=UTC)
        return JSONResponse(
            {
                "success": True,
                "code": 200,
                "msg": "File uploaded successfully",
                "data": {
                    "success": True,
                    "fileName": stored.name,
                    "filePath": stored.path,
                    "downloadUrl": f"{self.state.public_url}{TEMPFILE_PREFIX}{stored.path}",
                    "fileSize": len(stored.data),
                    "mimeType": stored.mime_type,
                    "uploadedAt": uploaded_at.isoformat(timespec="milliseconds").replace(
                        "+00:00", "Z"
                    ),
                },
            }
        )

    async def stream_upload(self, request: Request, account: str) -> Response:
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                file = form.get("file")
                if not isinstance(file, UploadFile):
                    raise UploadRejected("Missing required parameter: file")
                clean_upload_path(form.get("uploadPath"))
                data = await _read_capped(file)
                mime = file.content_type
                if not mime or mime == "application/octet-stream":
                    mime = guess_mime(file.filename or "", mime)
                return self._store(
                    account, form.get("uploadPath"), form.get("fileName"), data, mime
                )
        except HTTPException as exc:
            return upload_error(400, f"Invalid multipart body: {exc.detail}")
        except UploadRejected as exc:
            return upload_error(400, str(exc))

    async def base64_upload(self, request: Request, account: str) -> Response:
        body = await read_json_object(request)
        if body is None:
            return upload_error(400, "Request body must be a JSON object")
        encoded = body.get("base64Data")
        if not isinstance(encoded, str) or not encoded:
            return upload_error(400, "Missing required parameter: base64Data")
        try:
            clean_upload_path(body.get("uploadPath"))
            mime: str | None = None
            match = _DATA_URI.match(encoded)
            if match:
                mime = match.group("mime")
                encoded = encoded[match.end() :]
            encoded = "".join(encoded.split())
            if len(encoded) // 4 * 3 > MAX_FILE_BYTES:
                raise UploadRejected(f"File exceeds the {MAX_FILE_BYTES // (1024 * 1024)} MB limit")
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise UploadRejected("Base64 decoding failed: Invalid Base64 format") from None
            if mime is None and isinstance(body.get("fileName"), str):
                mime = guess_mime(body["fileName"])
            return self._store(account, body.get("uploadPath"), body.get("fileName"), data, mime)
        except UploadRejected as exc:
            return upload_error(400, str(exc))

    async def url_upload(self, request: Request, account: str) -> Response:
        body = await read_json_object(request)
        if body is None:
            return upload_error(400, "Request body must be a JSON object")
        file_url = body.get("fileUrl")
        if not isinstance(file_url, str) or not file_url:
            return upload_error(400, "Missing required parameter: fileUrl")
        try:
            clean_upload_path(body.get("uploadPath"))
            found = await local_file(self.state, file_url)
            if found is None:
                raise UploadRejected(
                    "The emulator only copies files it serves itself; upload the bytes instead"
                )
            data, mime = found
            file_name = body.get("fileName") or file_url.rsplit("/", 1)[-1]
            return self._store(account, body.get("uploadPath"), file_name, data, mime)
        except UploadRejected as exc:
            return upload_error(400, str(exc))

    async def serve_upload(self, request: Request) -> Response:
        # Expired uploads answer 404, as Kie's file host does after 24 h.
        stored = self.state.upload(request.path_params["path"])
        if stored is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        etag = f'"{stored.uploaded_at_ms:x}-{len(stored.data):x}"'
        return file_response(request, stored.data, stored.mime_type, etag, stored.name)


async def _read_capped(file: UploadFile) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await file.read(1024 * 1024):
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise UploadRejected(f"File exceeds the {MAX_FILE_BYTES // (1024 * 1024)} MB limit")
        chunks.append(chunk)
    return b"".join(chunks)
