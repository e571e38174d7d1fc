"""Logging set-up shared by every command, with secrets scrubbed from every record.

Every line, ours, uvicorn's and DBOS's, leaves through the root handler in one format:
`2026-01-31T12:00:00.123Z LEVEL logger message` (UTC), or with IMAGE2AD_LOG_FORMAT=json one
JSON object per line that also names the request and the job the line was written for.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from image2ad.observability.context import ContextFields

FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
DBOS_CONSOLE_HANDLER = "__dbos_console_log_handler__"

_PATTERNS = [
    # The per-job callback secret travels in the URL path (and so in access logs).
    (re.compile(r"(/callbacks/kie/[\w-]+/)[\w-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1[redacted]"),
    (re.compile(r"\bi2a_[\w-]{8,}"), "i2a_[redacted]"),
    (re.compile(r"(?i)(image2ad_session=)[^;\s\"']+"), r"\1[redacted]"),
    # A password reset link is a login: its token must not sit in access logs.
    (re.compile(r"([?&]token=)[\w-]+"), r"\1[redacted]"),
    # A share link opens its results to anyone until it expires.
    (re.compile(r"(/s/)[\w-]{20,}"), r"\1[redacted]"),
]


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's rendered message so no key, token or callback secret is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class UTCFormatter(logging.Formatter):
    """Timestamps in UTC, so lines from processes on different hosts sort together."""

    def converter(self, seconds: float | None) -> time.struct_time:
        return time.gmtime(seconds)


class JsonLines(JsonFormatter):
    """`{"time", "level", "logger", "message", "request_id"?, "job_id"?, "exc_info"?, …}`.

    Every text value is scrubbed again before it is serialised: a traceback or an `extra` field
    is not part of the message that RedactSecrets cleans.
    """

    def __init__(self) -> None:
        super().__init__(
            ["message"],
            # uvicorn's coloured copy of the message repeats it.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        when = datetime.fromtimestamp(record.created, UTC)
        log_data["time"] = when.strftime(DATE_FORMAT) + f".{int(record.msecs):03d}Z"
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _scrubbed(value) for key, value in log_data.items()}


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    return value


def log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """A dictConfig for the app and uvicorn (access log included), every handler filtered."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json" if log_format == "json" else "plain",
        "filters": ["redact", "context"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecrets}, "context": {"()": ContextFields}},
        "formatters": {
            "plain": {"()": UTCFormatter, "format": FORMAT, "datefmt": DATE_FORMAT},
            "json": {"()": JsonLines},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level.upper(), "propagate": True},
            # A handler of ours keeps DBOS from installing its own console handler.
            "dbos": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            # One INFO line per provider request drowns everything else; keep them for DEBUG.
            "httpx": {"handlers": [], "level": "DEBUG" if level.upper() == "DEBUG" else "WARNING"},
        },
    }


def configure(level: str, log_format: str = "text") -> None:
    import logging.config

    logging.config.dictConfig(log_config(level, log_format))


def adopt_dbos_logger() -> None:
    """Send DBOS's records through our handlers (call after DBOS is created).

    `configure` gives the dbos logger our handler, so DBOS keeps its own console handler out;
    where logging was not configured that way, DBOS's handler (another format, no propagation)
    is removed here so its records reach the root handlers like everyone else's.
    """
    dbos = logging.getLogger("dbos")
    for handler in list(dbos.handlers):
        if handler.name == DBOS_CONSOLE_HANDLER:
            dbos.removeHandler(handler)
    if not dbos.handlers:
        dbos.propagate = True
