"""Routes of the main Kie host: createTask, recordInfo, credit, download-url, result files."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from image2ad.providers.emulator.auth import guarded, kie_error, kie_ok, read_json_object
from image2ad.providers.emulator.byteranges import file_response
from image2ad.providers.emulator.catalog import MODELS, InputError, is_http_url
from image2ad.providers.emulator.media import media_type, result_file, task_of
from image2ad.providers.emulator.state import EmulatorState, OutOfCredits


async def _released(held: Callable[[], bool]) -> None:
    # Tests flip the hold knobs from their own thread, so there is no loop-bound event to await.
    while held():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


class KieApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        s = self.state
        return [
            Route(
                "/api/v1/jobs/createTask",
                guarded(s, "createTask", self.create_task),
                methods=["POST"],
            ),
            Route(
                "/api/v1/jobs/recordInfo",
                guarded(s, "recordInfo", self.record_info),
                methods=["GET"],
            ),
            Route("/api/v1/chat/credit", guarded(s, "credit", self.credit), methods=["GET"]),
            Route(
                "/api/v1/common/download-url",
                guarded(s, "downloadUrl", self.download_url),
                methods=["POST"],
            ),
            Route("/files/{token}/{name}", self.result_file, methods=["GET"]),
        ]

    async def create_task(self, request: Request, account: str) -> Response:
        settings = self.state.settings
        if not self.state.create_limiter.try_acquire(account):
            self.state.refusals["createTask"] += 1
            return kie_error(
                429,
                f"Rate limit exceeded: at most {settings.create_limit} new tasks "
                f"per {settings.create_period_s:g} s",
                http_status=429,
            )
        body = await read_json_object(request)
        if body is None:
            return kie_error(422, "Request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return kie_error(422, "model is required")
        if model in settings.withdrawn_models:
            return kie_error(505, f"The model {model} is currently disabled")
        spec = MODELS.get(model)
        if spec is None:
            return kie_error(422, f"Unsupported model: {model}")
        if not isinstance(body.get("input"), dict):
            return kie_error(422, "input is required and must be an object")
        for field in ("callBackUrl", "progressCallBackUrl"):
            value = body.get(field)
            if value not in (None, "") and not is_http_url(value):
                return kie_error(422, f"{field} must be an http(s) URL")
            if value not in (None, "") and not self._may_call_back(str(value)):
                return kie_error(422, f"{field} must point at this service's own callbacks")
        try:
            spec.validate(body["input"])
        except InputError as exc:
            return kie_error(422, str(exc))
        try:
            task = self.state.create_task(spec, body, account)
        except OutOfCredits:
            return kie_error(402, "Insufficient credits")
        # Mounted sub-apps get no lifespan, so the first task starts the callback scheduler.
        self.state.start()
        return kie_ok({"taskId": task.task_id})

    def _may_call_back(self, url: str) -> bool:
        # The built-in emulator would otherwise POST wherever a caller asks (blind SSRF).
        prefixes = self.state.settings.callback_prefixes
        return prefixes is None or any(url.startswith(p) for p in prefixes)

    async def record_info(self, request: Request, account: str) -> Response:
        if not self.state.query_limiter.try_acquire(account):
            self.state.refusals["recordInfo"] += 1
            return kie_error(429, "Rate limit exceeded", http_status=429)
        task_id = request.query_params.get("taskId", "").strip()
        self.state.queries[task_id] += 1
        await _released(lambda: self.state.hold_queries)
        if not task_id:
            return kie_error(400, "taskId parameter is required")
        record = self.state.record(task_id)
        if record is None:
            return JSONResponse({"code": 422, "msg": "recordInfo is null", "data": None})
        return kie_ok(record)

    async def credit(self, request: Request, account: str) -> Response:
        return kie_ok(self.state.balance)

    async def download_url(self, request: Request, account: str) -> Response:
        body = await read_json_object(request)
        url = body.get("url") if body else None
        if not isinstance(url, str) or not url:
            return kie_error(422, "url is required")
        if not url.startswith(self.state.public_url + "/"):
            return kie_error(422, "External file URLs are not supported")
        return kie_ok(url)

    async def result_file(self, request: Request) -> Response:
        name, token = request.path_params["name"], request.path_params["token"]
        data = await result_file(self.state, token, name)
        task = task_of(self.state, token)
        if data is None or task is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        task_id = task.task_id
        if self.state.hold_results:
            self.state.held_results.append(task_id)
            await _released(lambda: self.state.hold_results)
        self.state.served_results.append(task_id)
        etag = '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'
        return file_response(request, data, media_type(name), etag, name)
