"""Helpers for Kie's completion callbacks (kie-api.md §4). A callback is only a hint: confirm
with recordInfo before acting on it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from image2ad.providers.base import TaskState

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
# successFlag, in Veo's record (kie-models.md §3.3) and in newer market records (§1).
_FLAGS = {0: TaskState.GENERATING, 1: TaskState.SUCCESS, 2: TaskState.FAIL, 3: TaskState.FAIL}


def extract_task_id(body: Mapping[str, Any]) -> str | None:
    """The task id from `data.taskId`, else `data.task_id`, else top-level `taskId`."""
    data = body.get("data")
    candidates = [data.get("taskId"), data.get("task_id")] if isinstance(data, Mapping) else []
    candidates.append(body.get("taskId"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def extract_outcome(body: Mapping[str, Any]) -> TaskState | None:
    """What a callback says about its task, as a hint only: None when it cannot tell.

    Market callbacks carry the record (`data.state`; code 501 on failure, kie-api.md §4).
    Veo callbacks carry no state: code 200 with `data.info` is a success and any other code
    a failure (kie-models.md §3.3).
    """
    data = body.get("data")
    data = data if isinstance(data, Mapping) else {}
    state = data.get("state")
    if isinstance(state, str):
        try:
            return TaskState(state.strip().lower())
        except ValueError:
            return None
    flag = data.get("successFlag")
    if isinstance(flag, int) and not isinstance(flag, bool):
        return _FLAGS.get(flag)
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    if code != 200:
        return TaskState.FAIL
    return TaskState.SUCCESS if isinstance(data.get("info"), Mapping) else None


def sign(hmac_key: str, task_id: str, timestamp: str) -> str:
    """base64(HMAC-SHA256(key, f"{task_id}.{timestamp}")), as Kie sends in X-Webhook-Signature."""
    digest = hmac.new(hmac_key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    hmac_key: str,
    task_id: str,
    timestamp: str,
    signature: str,
    *,
    max_age_s: float | None = None,
    now: float | None = None,
) -> bool:
    """Check Kie's callback signature in constant time.

    The signature covers only the task id and the timestamp, not the body. Kie states no
    replay window, so `max_age_s` is opt-in.
    """
    if not (hmac_key and task_id and signature):
        return False
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if max_age_s is not None:
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > max_age_s:
            return False
    expected = sign(hmac_key, task_id, timestamp)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())
