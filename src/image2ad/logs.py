"""Logging set-up shared by `serve` and `worker`, with secrets scrubbed from every record."""

from __future__ import annotations

import logging
import re
from typing import Any

_PATTERNS = [
    # The per-job callback secret travels in the URL path (and so in access logs).
    (re.compile(r"(/callbacks/kie/[\w-]+/)[\w-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1[redacted]"),
    (re.compile(r"\bi2a_[\w-]{8,}"), "i2a_[redacted]"),
    (re.compile(r"(?i)(image2ad_session=)[^;\s\"']+"), r"\1[redacted]"),
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


def log_config(level: str) -> dict[str, Any]:
    """A dictConfig for the app and uvicorn (access log included), every handler filtered."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "filters": ["redact"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecrets}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level.upper(), "propagate": True},
            "dbos": {"handlers": [], "level": level.upper(), "propagate": True},
            # One INFO line per provider request drowns everything else; keep them for DEBUG.
            "httpx": {"handlers": [], "level": "DEBUG" if level.upper() == "DEBUG" else "WARNING"},
        },
    }


def configure(level: str) -> None:
    import logging.config

    logging.config.dictConfig(log_config(level))
