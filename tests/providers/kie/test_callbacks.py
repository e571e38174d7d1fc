from __future__ import annotations

from typing import Any

import pytest

from image2ad.providers.kie import extract_task_id, sign, verify_signature

KEY = "whsec-test-key"
TASK = "task_abc"
TS = "1755599644"
# printf '%s' "task_abc.1755599644" | openssl dgst -sha256 -hmac "whsec-test-key" -binary | base64
VECTOR = "8AVBwQ7Bk+hTwGEyC4oPiGrEpVr+95fvucCNQzubkCw="


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"code": 200, "data": {"taskId": "a", "task_id": "b"}, "taskId": "c"}, "a"),
        ({"data": {"task_id": "b", "callbackType": "task_completed"}, "taskId": "c"}, "b"),
        ({"taskId": "c", "data": None}, "c"),
        ({"taskId": "c", "data": "not an object"}, "c"),
        ({"data": {"taskId": ""}, "taskId": "c"}, "c"),
        ({"data": {"taskId": 123}}, None),
        ({}, None),
    ],
)
def test_extract_task_id(body: dict[str, Any], expected: str | None) -> None:
    assert extract_task_id(body) == expected


def test_sign_matches_an_independent_vector() -> None:
    assert sign(KEY, TASK, TS) == VECTOR


def test_verify_accepts_the_right_signature() -> None:
    assert verify_signature(KEY, TASK, TS, VECTOR)


@pytest.mark.parametrize(
    ("key", "task_id", "timestamp", "signature"),
    [
        ("other-key", TASK, TS, VECTOR),
        (KEY, "task_other", TS, VECTOR),
        (KEY, TASK, "1755599645", VECTOR),
        (KEY, TASK, TS, VECTOR[:-2]),
        (KEY, TASK, TS, ""),
        (KEY, TASK, TS, "ñ-not-ascii"),
        ("", TASK, TS, VECTOR),
        (KEY, "", TS, VECTOR),
    ],
)
def test_verify_rejects_mismatches(key: str, task_id: str, timestamp: str, signature: str) -> None:
    assert not verify_signature(key, task_id, timestamp, signature)


@pytest.mark.parametrize("timestamp", ["", "12.5", "-1", "1e9", " 1755599644", "¹²³", "0x10"])
def test_verify_rejects_non_numeric_timestamps(timestamp: str) -> None:
    assert not verify_signature(KEY, TASK, timestamp, sign(KEY, TASK, timestamp))


def test_optional_replay_window() -> None:
    now = int(TS) + 100
    assert verify_signature(KEY, TASK, TS, VECTOR, max_age_s=300, now=now)
    assert not verify_signature(KEY, TASK, TS, VECTOR, max_age_s=60, now=now)
