"""The API's per-user request budget, as a router dependency."""

from __future__ import annotations

from fastapi import Request

from image2ad.deps import CurrentUser, RuntimeDep


async def limit_api(request: Request, user: CurrentUser, rt: RuntimeDep) -> None:
    """Router dependency: every authenticated API call counts against the user's budget.

    async: the counters are in memory and never block, so no threadpool hop.
    """
    rt.limiter.hit(rt.settings.api_rate_limit, "api", user.id)
    if request.method == "POST" and request.url.path.rstrip("/").endswith(("/jobs", "/retry")):
        rt.limiter.hit(
            rt.settings.job_rate_limit, "jobs", user.id, message="Too many new generations."
        )
