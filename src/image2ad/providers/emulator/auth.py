"""Bearer auth, per-endpoint counting and latency shared by every API route."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from image2ad.providers.emulator.settings import EmulatorSettings
from image2ad.providers.emulator.state import EmulatorState

UNAUTHORIZED_MSG = "You do not have access permissions"

AccountHandler = Callable[[Request, str], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def kie_ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 200, "msg": "success", "data": data})


def kie_error(code: int, msg: str, *, http_status: int = 200) -> JSONResponse:
    """Kie reports most errors in the body `code` with HTTP 200 (kie-api.md §2.3)."""
    return JSONResponse({"code": code, "msg": msg, "data": None}, status_code=http_status)


def upload_error(code: int, msg: str, *, http_status: int | None = None) -> JSONResponse:
    status = code if http_status is None else http_status
    return JSONResponse({"success": False, "code": code, "msg": msg}, status_code=status)


def bearer_account(state: EmulatorState, header: str | None) -> str | None:
    """The account (its key) a request acts for, or None when auth fails."""
    scheme, _, key = (header or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    expected = state.settings.api_key
    if expected is not None and not hmac.compare_digest(key.encode(), expected.encode()):
        return None
    return key


def response_delay(settings: EmulatorSettings, name: str | None) -> float:
    extra = settings.create_latency_s if name == "createTask" else 0.0
    return max(0.0, settings.latency_s + extra)


def guarded(
    state: EmulatorState, name: str | None, handler: AccountHandler, *, upload_host: bool = False
) -> Endpoint:
    """Wrap a handler with call counting, Bearer auth and the latency knobs."""

    async def endpoint(request: Request) -> Response:
        if name is not None:
            state.calls[name] += 1
        account = bearer_account(state, request.headers.get("authorization"))
        response: Response
        if account is None:
            status = state.settings.unauthenticated_http_status
            if upload_host:
                response = upload_error(401, UNAUTHORIZED_MSG, http_status=status)
            else:
                response = kie_error(401, UNAUTHORIZED_MSG, http_status=status)
        else:
            try:
                response = await handler(request, account)
            except ClientDisconnect:
                return Response(status_code=400)  # nobody is left to read it
        # The work is done before the delay, so a client that times out has lost only the
        # answer: a createTask whose task exists but whose id never arrived.
        delay = response_delay(state.settings, name)
        if delay > 0:
            await asyncio.sleep(delay)
        return response

    return endpoint


async def read_json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
