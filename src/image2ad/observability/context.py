"""The request id and the job id that every log line written on their behalf carries."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is echoed into our logs and headers: short, and nothing a log reader or a
# header parser could trip on.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)


def bind_job(value: str) -> None:
    """Every line logged from here on in this task (and the threads it starts) names the job."""
    job_id.set(value)


def accepted_request_id(value: str | None) -> str:
    """The client's X-Request-ID when it is safe to repeat, otherwise a new one."""
    if value is not None and _SAFE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class ContextFields(logging.Filter):
    """Copies the current request id and job id onto the record (JSON logs print them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (request := request_id.get()) is not None:
            record.request_id = request
        if (job := job_id.get()) is not None:
            record.job_id = job
        return True


class RequestId:
    """Gives each HTTP request an id, answers it in X-Request-ID and binds it for the logs.

    The id is not reset when the request ends: each request runs in a task of its own, and the
    app's last-resort error handler (outside this middleware) logs in the same task.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                sent = value.decode("latin-1")
                break
        rid = accepted_request_id(sent)
        request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)
