"""Open multipart uploads in an S3 bucket: list them and abort the abandoned ones.

A process killed in the middle of a multipart upload leaves it open: invisible to readers, but
its parts are billed until it is aborted. obstore aborts on errors but cannot list uploads, so
these two calls are made here, signed with AWS Signature V4. Without static keys (an instance
role) this is skipped; the bucket's AbortIncompleteMultipartUpload lifecycle rule then does it
(docs/storage.md).
"""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import httpx

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class OpenUpload:
    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True)
class BucketUploads:
    endpoint: str
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    virtual_hosted: bool = False
    timeout_s: float = 30.0

    def _url(self, key: str) -> str:
        parts = urlsplit(self.endpoint.rstrip("/"))
        if self.virtual_hosted:
            base = f"{parts.scheme}://{self.bucket}.{parts.netloc}{parts.path}"
            return f"{base}/{quote(key, safe='/-_.~')}"
        return (
            f"{parts.scheme}://{parts.netloc}{parts.path}/{self.bucket}/{quote(key, safe='/-_.~')}"
        )

    def _signed(self, method: str, key: str, params: dict[str, str]) -> httpx.Request:
        url = self._url(key)
        parts = urlsplit(url)
        now = datetime.now(UTC)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        headers = {"host": parts.netloc, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
        if self.session_token:
            headers["x-amz-security-token"] = self.session_token
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
        )
        names = ";".join(sorted(headers))
        canonical = "\n".join(
            [
                method,
                parts.path or "/",
                query,
                "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
                names,
                EMPTY_SHA256,
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key_bytes = f"AWS4{self.secret_access_key}".encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key_id}/{scope}, "
            f"SignedHeaders={names}, Signature={signature}"
        )
        headers.pop("host")
        return httpx.Request(method, f"{url}?{query}", headers=headers)

    async def list_open(self, prefix: str) -> list[OpenUpload]:
        found: list[OpenUpload] = []
        markers: dict[str, str] = {}
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                request = self._signed("GET", "", {"uploads": "", "prefix": prefix, **markers})
                response = await client.send(request)
                response.raise_for_status()
                root = ET.fromstring(response.content)  # noqa: S314 - our own bucket's answer
                for upload in root.iter(f"{_NS}Upload"):
                    initiated = upload.findtext(f"{_NS}Initiated") or ""
                    found.append(
                        OpenUpload(
                            upload.findtext(f"{_NS}Key") or "",
                            upload.findtext(f"{_NS}UploadId") or "",
                            datetime.fromisoformat(initiated.replace("Z", "+00:00")),
                        )
                    )
                if root.findtext(f"{_NS}IsTruncated") != "true":
                    return found
                markers = {
                    "key-marker": root.findtext(f"{_NS}NextKeyMarker") or "",
                    "upload-id-marker": root.findtext(f"{_NS}NextUploadIdMarker") or "",
                }

    async def abort(self, upload: OpenUpload) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            response = await client.send(
                self._signed("DELETE", upload.key, {"uploadId": upload.upload_id})
            )
            if response.status_code != 404:
                response.raise_for_status()
