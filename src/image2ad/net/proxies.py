"""Which reverse proxies `serve` believes about the client's address and scheme."""

from __future__ import annotations

from typing import Any

from image2ad.config import Settings


def uvicorn_proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for IMAGE2AD_FORWARDED_ALLOW_IPS: X-Forwarded-For is honoured only
    from these peers, so a client elsewhere cannot pick the address it is throttled under."""
    trusted = ",".join(part.strip() for part in settings.forwarded_allow_ips.split(",") if part)
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}
