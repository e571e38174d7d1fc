"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

# The Standard Webhooks spec marks a signing key with a tag (the library's own); each key
# itself is random.
KEY_FORMAT_TAG = Webhook._SECRET_PREFIX
SECRET_BYTES = 24


def new_secret() -> str:
    return KEY_FORMAT_TAG + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def headers(secret: str, event_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three signature headers for `body` sent at `at` (`v1,` + base64 HMAC-SHA256 of
    "id.timestamp.body")."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
        "Content-Type": "application/json",
    }
