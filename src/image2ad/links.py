"""Signed, short-lived links to stored objects, issued only after an ownership check."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


@dataclass(frozen=True)
class LinkTarget:
    job_id: str
    key: str


class LinkSigner:
    def __init__(self, secret_key: str, ttl_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="image2ad.result-link")
        self.ttl_s = ttl_s

    def sign(self, job_id: str, key: str) -> str:
        return self._serializer.dumps({"j": job_id, "k": key})

    def verify(self, token: str) -> LinkTarget | None:
        """The object a token names, or None when it is forged, altered or expired."""
        try:
            data = self._serializer.loads(token, max_age=self.ttl_s)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict) or not {"j", "k"} <= data.keys():
            return None
        return LinkTarget(job_id=str(data["j"]), key=str(data["k"]))
