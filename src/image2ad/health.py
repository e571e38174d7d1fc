from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from image2ad.deps import RuntimeDep
from image2ad.observability.provider import ProviderCheck

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, rt: RuntimeDep) -> JSONResponse:
    """The database and the storage are reachable; the provider's state is reported beside.

    Only `checks` decide readiness: a Kie outage shows in `provider` and leaves the API in the
    load balancer (observability/provider.py says why).
    """
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(rt.db.ping)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await rt.storage.check()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    provider_check: ProviderCheck = request.app.state.provider_check
    provider = await provider_check.status(rt)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks, "provider": provider},
        status_code=200 if ready else 503,
    )
