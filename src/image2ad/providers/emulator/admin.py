"""JSON routes over the test knobs, for steering an emulator in another process."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from image2ad.providers.emulator.auth import guarded, kie_error, kie_ok, read_json_object
from image2ad.providers.emulator.state import EmulatorState
from image2ad.providers.emulator.task import DEFAULT_FAIL_CODE, DEFAULT_FAIL_MSG


class AdminApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        s = self.state
        return [
            Route("/_admin/tasks", guarded(s, None, self.tasks), methods=["GET"]),
            Route(
                "/_admin/tasks/{task_id}/succeed", guarded(s, None, self.succeed), methods=["POST"]
            ),
            Route("/_admin/tasks/{task_id}/fail", guarded(s, None, self.fail), methods=["POST"]),
            Route("/_admin/knobs", guarded(s, None, self.knobs), methods=["GET", "POST"]),
        ]

    async def tasks(self, request: Request, account: str) -> Response:
        return kie_ok(self.state.list_tasks())

    async def succeed(self, request: Request, account: str) -> Response:
        return self._force(request.path_params["task_id"], None)

    async def fail(self, request: Request, account: str) -> Response:
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

    async def knobs(self, request: Request, account: str) -> Response:
        s = self.state
        if request.method == "POST":
            body = await read_json_object(request) or {}
            if isinstance(body.get("out_of_credits"), bool):
                s.out_of_credits = body["out_of_credits"]
            if isinstance(body.get("drop_callbacks"), bool):
                s.drop_callbacks = body["drop_callbacks"]
            if isinstance(body.get("duplicate_callbacks"), int):
                s.duplicate_callbacks = body["duplicate_callbacks"]
            if isinstance(body.get("balance"), int):
                s.balance = body["balance"]
        return kie_ok(
            {
                "out_of_credits": s.out_of_credits,
                "drop_callbacks": s.drop_callbacks,
                "duplicate_callbacks": s.duplicate_callbacks,
                "balance": s.balance,
                "calls": dict(s.calls),
                "callback_attempts": len(s.callback_attempts),
            }
        )
