"""GET /metrics: open to loopback clients, a bearer token for everyone else."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from image2ad.deps import RuntimeDep
from image2ad.observability import metrics

router = APIRouter(tags=["observability"])

# Headers a reverse proxy adds. A request carrying one came through a proxy, whatever the socket
# peer: a proxy on this machine that is not in IMAGE2AD_FORWARDED_ALLOW_IPS would otherwise make
# every outside client look like loopback.
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def is_loopback(request: Request) -> bool:
    """The client is on this machine and no proxy relayed the request."""
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_matches(request: Request, expected: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request, rt: RuntimeDep) -> Response:
    """Prometheus text; 404 to strangers when no token is set, 401 without the right one."""
    if not is_loopback(request):
        token = rt.settings.metrics_token
        if token is None or not token.get_secret_value():
            # Without a token the endpoint exists for loopback only: say nothing more.
            return JSONResponse(
                {"error": {"code": "not_found", "message": "Not Found"}}, status_code=404
            )
        if not _token_matches(request, token.get_secret_value()):
            return JSONResponse(
                {"error": {"code": "not_authenticated", "message": "A metrics token is needed."}},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    body = await asyncio.to_thread(metrics.render, rt.db)
    return Response(body, media_type=metrics.CONTENT_TYPE)
