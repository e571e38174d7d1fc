"""Kie's model discovery routes: the catalogue, a model's price, schema and success rate.

kie-models.md §1 ("New discovery API", sources K and R). All of them share one per-account
budget (`discovery_limit` per `discovery_period_s`, 1/s on Kie). Model names contain `/`, so
the routes use a path converter and names are never URL-encoded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from image2ad.providers.base import TaskState
from image2ad.providers.emulator.auth import guarded, kie_error, kie_ok
from image2ad.providers.emulator.catalog import MODELS, ModelSpec
from image2ad.providers.emulator.state import EmulatorState

POINTS = 144
POINT_S = 600
NORMAL_SUCCESS_RATE = 0.5
"""A ten-minute point with traffic is `isNormal` when at least this share succeeded."""
UNKNOWN_MODEL = "The model name you specified is not supported"

ModelHandler = Callable[[Request, ModelSpec], Awaitable[Response]]


def rate_limited(state: EmulatorState, name: str) -> Response:
    """Code 429; HTTP 200 unless `rate_limit_http_status` asks for the HTTP-429 form."""
    state.refusals[name] += 1
    return kie_error(429, "Rate limit exceeded", http_status=state.settings.rate_limit_http_status)


class DiscoveryApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        s = self.state
        return [
            Route("/api/v1/models", guarded(s, "models", self.models), methods=["GET"]),
            *(
                Route(
                    f"/api/v1/models/{{model:path}}/{suffix}",
                    guarded(s, name, self._for_model(handler)),
                    methods=["GET"],
                )
                for suffix, name, handler in (
                    ("price", "modelPrice", self.price),
                    ("schema", "modelSchema", self.schema),
                    ("success-rate", "modelSuccessRate", self.success_rate),
                )
            ),
        ]

    def listed(self) -> list[ModelSpec]:
        """Every model Kie lists: withdrawn ones are gone, paused ones stay."""
        withdrawn = self.state.settings.withdrawn_models
        return [spec for name, spec in MODELS.items() if name not in withdrawn]

    def _allowed(self, account: str) -> bool:
        return self.state.discovery_limiter.try_acquire(account)

    def _for_model(self, handler: ModelHandler) -> Callable[[Request, str], Awaitable[Response]]:
        async def endpoint(request: Request, account: str) -> Response:
            if not self._allowed(account):
                return rate_limited(self.state, "discovery")
            name = request.path_params["model"]
            spec = next((s for s in self.listed() if s.name == name), None)
            if spec is None:
                return kie_error(404, UNKNOWN_MODEL)
            return await handler(request, spec)

        return endpoint

    async def models(self, request: Request, account: str) -> Response:
        if not self._allowed(account):
            return rate_limited(self.state, "discovery")
        query = request.query_params
        task_type, provider = query.get("taskType"), query.get("provider")
        text = (query.get("q") or "").strip().lower()
        found = [
            _summary(spec)
            for spec in self.listed()
            if (not task_type or task_type in spec.task_types)
            and (not provider or provider.lower() == spec.provider)
            and (
                not text
                or any(text in (v or "").lower() for v in (spec.name, spec.title, spec.description))
            )
        ]
        return kie_ok({"total": len(found), "models": found})

    async def price(self, request: Request, spec: ModelSpec) -> Response:
        return kie_ok({"model": spec.name, "pricingDesc": spec.price.describe})

    async def schema(self, request: Request, spec: ModelSpec) -> Response:
        # Kie answers null for a model whose OpenAPI text is not synced yet (§1, source K).
        return kie_ok({"model": spec.name, "openapi": None})

    async def success_rate(self, request: Request, spec: ModelSpec) -> Response:
        return kie_ok(self.points(spec.name, time.time()))

    def points(self, model: str, now: float) -> list[dict[str, Any]]:
        """The last 24 h as 144 ten-minute points, oldest first."""
        settings = self.state.settings
        down = model in settings.paused_models or model in settings.maintenance_models
        end = (int(now) // POINT_S + 1) * POINT_S
        outcomes: dict[int, list[bool]] = {}
        for task in list(self.state.tasks.values()):
            if task.spec.name == model and task.state_at(now).is_terminal:
                slot = int(task.created_at) // POINT_S * POINT_S
                outcomes.setdefault(slot, []).append(task.outcome is TaskState.SUCCESS)
        points = []
        for index in range(POINTS):
            start = end - (POINTS - index) * POINT_S
            points.append(_point(start, outcomes.get(start), down=down))
        return points


def _summary(spec: ModelSpec) -> dict[str, Any]:
    return {
        "model": spec.name,
        "slug": spec.slug,
        "title": spec.title,
        "provider": spec.provider,
        "taskType": list(spec.task_types),
        "description": spec.description,
        "pricingDesc": spec.price.describe,
    }


def _point(start: int, outcomes: list[bool] | None, *, down: bool) -> dict[str, Any]:
    rate: float | None
    if down:
        rate = 0.0
    elif outcomes:
        rate = round(sum(outcomes) / len(outcomes), 4)
    else:
        rate = None  # no traffic in this window
    return {
        "start": start * 1000,
        "end": (start + POINT_S) * 1000,
        "successRate": rate,
        "errorRate": None if rate is None else round(1 - rate, 4),
        "isNormal": not down and (rate is None or rate >= NORMAL_SUCCESS_RATE),
    }
