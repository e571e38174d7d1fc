"""The JSON log format: one object per line, the context's ids on it, secrets scrubbed from
every part of the line (message, traceback, extra fields)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from contextvars import copy_context
from typing import Any

import pytest

from image2ad import logs
from image2ad.observability import context

KEY = "i2a_" + "k" * 40


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    config = logs.log_config("INFO", "json")
    config["handlers"]["default"]["stream"] = stream
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        root.handlers, root.level = saved


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_carry_the_request_and_job_ids(json_log: io.StringIO) -> None:
    log = logging.getLogger("image2ad.test")

    def in_request() -> None:
        context.request_id.set("req-1")
        log.info("serving %s", "/api/v1/jobs")

    def in_job() -> None:
        context.bind_job("job-1")
        log.warning("job step")

    copy_context().run(in_request)
    copy_context().run(in_job)
    log.info("outside")
    first, second, third = lines(json_log)
    assert first["request_id"] == "req-1" and "job_id" not in first
    assert first["message"] == "serving /api/v1/jobs"
    assert first["level"] == "INFO" and first["logger"] == "image2ad.test"
    assert first["time"].endswith("Z")
    assert second["job_id"] == "job-1" and second["level"] == "WARNING"
    assert "request_id" not in third and "job_id" not in third


def test_secrets_are_scrubbed_everywhere_on_the_line(json_log: io.StringIO) -> None:
    log = logging.getLogger("image2ad.test")
    try:
        raise RuntimeError(f"Authorization: Bearer {KEY}")
    except RuntimeError:
        extra = {"header": f"Bearer {KEY}", "nested": {"keys": [KEY]}}
        log.exception("failed with key %s", KEY, extra=extra)
    text = json_log.getvalue()
    assert KEY not in text
    (line,) = lines(json_log)
    assert line["message"] == "failed with key i2a_[redacted]"
    assert "[redacted]" in line["exc_info"]
    assert line["header"] == "Bearer [redacted]"
    assert line["nested"] == {"keys": ["i2a_[redacted]"]}
