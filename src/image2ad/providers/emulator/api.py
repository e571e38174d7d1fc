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
from image2ad.providers.emulator.catalog import (
    MODELS,
    InputError,
    ModelSpec,
    input_file_urls,
    is_http_url,
)
from image2ad.providers.emulator.discovery import UNKNOWN_MODEL, DiscoveryApi, rate_limited
from image2ad.providers.emulator.media import TEMPFILE_PREFIX, media_type, result_file, task_of
from image2ad.providers.emulator.state import EmulatorState, OutOfCredits
from image2ad.providers.emulator.task import Task


async def _released(held: Callable[[], bool]) -> None:
    # Tests flip the hold knobs from their own thread, so there is no loop-bound event to await.
    while held():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


PAUSED_MSG = "This interface is temporarily paused."
MAINTENANCE_MSG = "The service is under maintenance, please try again later"
MISSING_FILE_MSG = "Failed to download the input file: {url}"


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
            *DiscoveryApi(s).routes(),
        ]

    async def create_task(self, request: Request, account: str) -> Response:
        if not self.state.create_limiter.try_acquire(account):
            return rate_limited(self.state, "createTask")
        body = await read_json_object(request)
        if body is None:
            return kie_error(422, "Request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return kie_error(422, "model is required")
        refused = self._refuse_model(model)
        if refused is not None:
            return refused
        spec = MODELS[model]
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
            return kie_error(exc.code, str(exc))
        try:
            task = self._create(spec, body, account)
        except OutOfCredits:
            return kie_error(402, "Insufficient credits")
        # Mounted sub-apps get no lifespan, so the first task starts the callback scheduler.
        self.state.start()
        return kie_ok({"taskId": task.task_id, "recordId": task.record_id})

    def _refuse_model(self, model: str) -> Response | None:
        """The answer for a model Kie does not run now (kie-models.md §2), else None."""
        settings = self.state.settings
        if model in settings.withdrawn_models:
            return kie_error(505, f"The model {model} is currently disabled")
        if model in settings.paused_models:
            # Paused models answer so even for names the emulator has no schema for.
            return kie_error(500, PAUSED_MSG)
        if model not in MODELS:
            return kie_error(422, UNKNOWN_MODEL)
        if model in settings.maintenance_models:
            return kie_error(455, MAINTENANCE_MSG)
        return None

    def _create(self, spec: ModelSpec, body: dict[str, object], account: str) -> Task:
        # Kie fetches input files only when the task runs, so an expired upload is accepted
        # and the task fails (kie-models.md §2: "accepted, fails upstream").
        inp = body.get("input")
        urls = input_file_urls(inp) if isinstance(inp, dict) else []
        missing = next((url for url in urls if self._gone(url)), None)
        failure = None if missing is None else ("500", MISSING_FILE_MSG.format(url=missing))
        return self.state.create_task(spec, body, account, failure=failure)

    def _gone(self, url: str) -> bool:
        """An upload URL of this emulator whose file expired or never existed."""
        prefix = self.state.public_url + TEMPFILE_PREFIX
        return url.startswith(prefix) and self.state.upload(url[len(prefix) :]) is None

    def _may_call_back(self, url: str) -> bool:
        # The built-in emulator would otherwise POST wherever a caller asks (blind SSRF).
        prefixes = self.state.settings.callback_prefixes
        return prefixes is None or any(url.startswith(p) for p in prefixes)

    async def record_info(self, request: Request, account: str) -> Response:
        task_id = request.query_params.get("taskId", "").strip()
        # Kie's query limit counts per task id, not per key (kie-models.md §1, source K).
        if not self.state.query_limiter.try_acquire(task_id):
            return rate_limited(self.state, "recordInfo")
        self.state.queries[task_id] += 1
        await _released(lambda: self.state.hold_queries)
        if not task_id:
            return kie_error(400, "taskId parameter is required")
        record = self.state.record(task_id, account=account)
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
        found = (task.task_id, data) if data is not None and task is not None else None
        for family in self.state.families:
            found = found or await family.result_file(token, name)
        if found is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        task_id, data = found
        if self.state.hold_results:
            self.state.held_results.append(task_id)
            await _released(lambda: self.state.hold_results)
        self.state.served_results.append(task_id)
        etag = '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'
        return file_response(request, data, media_type(name), etag, name)
