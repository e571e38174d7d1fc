"""Signed, short-lived links to stored objects, issued only after an ownership check.

A token names the job and a digest of the object's key, never the key itself: keys contain the
owner's user id, and a link may be shared.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LinkTarget:
    job_id: str
    key_digest: str

    def names(self, key: str | None) -> bool:
        """True when the link was issued for the object stored at `key`."""
        return key is not None and hmac.compare_digest(self.key_digest, _digest(key))


class LinkSigner:
    def __init__(self, secret_key: str, ttl_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="image2ad.result-link")
        self.ttl_s = ttl_s

    def sign(self, job_id: str, key: str) -> str:
        return self._serializer.dumps({"j": job_id, "d": _digest(key)})

    def verify(self, token: str) -> LinkTarget | None:
        """The object a token names, or None when it is forged, altered or expired."""
        try:
            data = self._serializer.loads(token, max_age=self.ttl_s)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict) or not {"j", "d"} <= data.keys():
            return None
        return LinkTarget(job_id=str(data["j"]), key_digest=str(data["d"]))
