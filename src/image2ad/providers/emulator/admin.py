"""JSON routes over the test knobs, for steering an emulator in another process.

They exist only when `admin_key` is set, and answer only to that Bearer key.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from image2ad.providers.emulator.auth import UNAUTHORIZED_MSG, kie_error, kie_ok, read_json_object
from image2ad.providers.emulator.state import EmulatorState
from image2ad.providers.emulator.task import DEFAULT_FAIL_CODE, DEFAULT_FAIL_MSG

Endpoint = Callable[[Request], Awaitable[Response]]
MODEL_SETS = ("paused_models", "maintenance_models", "withdrawn_models")
"""Settings that name models; POST /_admin/knobs replaces them with a list of names."""


def _model_set(value: object) -> frozenset[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return None


class AdminApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        if not self.state.settings.admin_key:
            return []
        return [
            Route("/_admin/tasks", self._guard(self.tasks), methods=["GET"]),
            Route("/_admin/tasks/{task_id}/succeed", self._guard(self.succeed), methods=["POST"]),
            Route("/_admin/tasks/{task_id}/fail", self._guard(self.fail), methods=["POST"]),
            Route("/_admin/knobs", self._guard(self.knobs), methods=["GET", "POST"]),
        ]

    def _guard(self, handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            expected = (self.state.settings.admin_key or "").encode()
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            if (
                not expected
                or scheme.lower() != "bearer"
                or not hmac.compare_digest(key.strip().encode(), expected)
            ):
                return kie_error(401, UNAUTHORIZED_MSG, http_status=401)
            return await handler(request)

        return endpoint

    async def tasks(self, request: Request) -> Response:
        return kie_ok(self.state.list_tasks())

    async def succeed(self, request: Request) -> Response:
        return self._force(request.path_params["task_id"], None)

    async def fail(self, request: Request) -> Response:
        body = await read_json_object(request) or {}
        return self._force(
            request.path_params["task_id"],
            (
                str(body.get("failCode", DEFAULT_FAIL_CODE)),
                str(body.get("failMsg", DEFAULT_FAIL_MSG)),
            ),
        )

    def _force(self, task_id: str, failure: tuple[str, str] | None) -> Response:
        try:
            if failure is None:
                self.state.force_success(task_id)
            else:
                self.state.force_fail(task_id, *failure)
        except KeyError:
            return kie_error(404, "Task not found")
        except ValueError as exc:
            return kie_error(409, str(exc))
        return kie_ok(self.state.record(task_id))

    async def knobs(self, request: Request) -> Response:
        s = self.state
        if request.method == "POST":
            body = await read_json_object(request) or {}
            if isinstance(body.get("out_of_credits"), bool):
                s.out_of_credits = body["out_of_credits"]
            if isinstance(body.get("drop_callbacks"), bool):
                s.drop_callbacks = body["drop_callbacks"]
            if isinstance(body.get("duplicate_callbacks"), int):
                s.duplicate_callbacks = body["duplicate_callbacks"]
            if isinstance(body.get("balance"), int | float):
                s.balance = body["balance"]
            for name in MODEL_SETS:
                models = _model_set(body.get(name))
                if models is not None:
                    setattr(s.settings, name, models)
        return kie_ok(
            {
                "out_of_credits": s.out_of_credits,
                "drop_callbacks": s.drop_callbacks,
                "duplicate_callbacks": s.duplicate_callbacks,
                "balance": s.balance,
                **{name: sorted(getattr(s.settings, name)) for name in MODEL_SETS},
                "calls": dict(s.calls),
                "callback_attempts": len(s.callback_attempts),
            }
        )
