"""Kie's Veo 3.1 API family (kie-models.md §3.3): its own endpoints, flat bodies, successFlag.

Veo tasks share the market tasks' account (balance, create limit, query limit, failure rate,
callback knobs) but keep their own records and callback shape. Their result files are served
by the market result-file route, which asks every family on `EmulatorState.families`.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from image2ad.providers.emulator.auth import guarded, kie_error, kie_ok, read_json_object
from image2ad.providers.emulator.callbacks import CallbackDispatcher, Delivery
from image2ad.providers.emulator.catalog import is_http_url
from image2ad.providers.emulator.media import (
    MISSING_REFERENCE,
    TEMPFILE_PREFIX,
    clip_seconds,
    local_file,
)
from image2ad.providers.emulator.state import EmulatorState
from image2ad.providers.emulator.video import render_video

# Credits per 8 s clip (kie-models.md §3.3): veo3 250 is confirmed; veo3_fast 60 and veo3_lite
# 30 are single-source prices there.
VEO_MODELS: dict[str, int] = {"veo3": 250, "veo3_fast": 60, "veo3_lite": 30}
TEXT_2_VIDEO = "TEXT_2_VIDEO"
FRAMES_2_VIDEO = "FIRST_AND_LAST_FRAMES_2_VIDEO"
REFERENCE_2_VIDEO = "REFERENCE_2_VIDEO"
GENERATION_TYPES = (TEXT_2_VIDEO, FRAMES_2_VIDEO, REFERENCE_2_VIDEO)
ASPECT_RATIOS = ("16:9", "9:16", "Auto")  # capital A, kie-models.md §3.3
RESOLUTIONS = ("720p", "1080p", "4k")
DURATIONS = (4, 6, 8)
SEEDS = range(10000, 100000)
SUCCESS_MSG = "Veo3.1 video generated successfully."
# successFlag (kie-models.md §3.3): 0 generating, 1 success, 2 failed, 3 created but failed.
GENERATING, SUCCESS, FAILED, GENERATION_FAILED = 0, 1, 2, 3
FAILURES: dict[int, tuple[int, str]] = {
    FAILED: (500, "Internal server error"),
    GENERATION_FAILED: (501, "Video generation failed"),
}
DEFAULT_FULL_HD_DELAY_S = 1.0


class VeoInputError(ValueError):
    """The generate body breaks Veo's contract; the message names the field."""


@dataclass(frozen=True)
class VeoRequest:
    model: str
    generation_type: str
    aspect_ratio: str
    """16:9 or 9:16: the ratio the clip is rendered at (Auto renders 16:9)."""
    image_urls: list[str]


def _ratio(body: Mapping[str, Any]) -> str:
    # Current docs send aspect_ratio, older ones aspectRatio (kie-models.md §3.3).
    value = body.get("aspect_ratio", body.get("aspectRatio"))
    if value is None:
        return "16:9"
    if value not in ASPECT_RATIOS:
        raise VeoInputError(f"Ratio error: aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    return str(value)


def _images(body: Mapping[str, Any]) -> list[str]:
    urls = body.get("imageUrls")
    if urls is None:
        return []
    if not isinstance(urls, list) or not all(is_http_url(url) for url in urls):
        raise VeoInputError("imageUrls must be an array of http(s) URLs")
    return [str(url) for url in urls]


def _optional(body: Mapping[str, Any], name: str, ok: bool, expected: str) -> None:
    if name in body and body[name] is not None and not ok:
        raise VeoInputError(f"{name} must be {expected}")


def validate(body: Mapping[str, Any]) -> VeoRequest:
    """Check a generate body the way Kie does; raises VeoInputError."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise VeoInputError("prompt is required")
    model = body.get("model")
    if model not in VEO_MODELS:
        # Kie's words for an unknown model (kie-models.md §2).
        raise VeoInputError(
            f"The model name you specified is not supported (Veo: {', '.join(VEO_MODELS)})"
        )
    ratio = _ratio(body)
    images = _images(body)
    kind = body.get("generationType")
    if kind is None:
        # Kie infers the mode from imageUrls; more than two images can only be references.
        kind = TEXT_2_VIDEO if not images else FRAMES_2_VIDEO if len(images) <= 2 else None
        kind = kind or REFERENCE_2_VIDEO
    if kind not in GENERATION_TYPES:
        raise VeoInputError(f"generationType must be one of: {', '.join(GENERATION_TYPES)}")
    if kind == TEXT_2_VIDEO and images:
        raise VeoInputError("imageUrls must be empty for TEXT_2_VIDEO")
    if kind == FRAMES_2_VIDEO and not 1 <= len(images) <= 2:
        raise VeoInputError("FIRST_AND_LAST_FRAMES_2_VIDEO takes 1 or 2 imageUrls")
    if kind == REFERENCE_2_VIDEO:
        if model == "veo3":
            raise VeoInputError("REFERENCE_2_VIDEO is only supported by veo3_fast and veo3_lite")
        if ratio == "Auto":
            raise VeoInputError("Ratio error: REFERENCE_2_VIDEO takes 16:9 or 9:16")
        if not 1 <= len(images) <= 3:
            raise VeoInputError("REFERENCE_2_VIDEO takes 1 to 3 imageUrls")
    watermark, translate = body.get("watermark"), body.get("enableTranslation")
    _optional(body, "watermark", isinstance(watermark, str), "a string")
    _optional(body, "enableTranslation", isinstance(translate, bool), "a boolean")
    _optional(body, "enableFallback", isinstance(body.get("enableFallback"), bool), "a boolean")
    seeds = body.get("seeds")
    _optional(
        body,
        "seeds",
        isinstance(seeds, int) and not isinstance(seeds, bool) and seeds in SEEDS,
        "an integer from 10000 to 99999",
    )
    _optional(body, "resolution", body.get("resolution") in RESOLUTIONS, "720p, 1080p or 4k")
    duration = body.get("duration")
    _optional(
        body,
        "duration",
        isinstance(duration, int) and not isinstance(duration, bool) and duration in DURATIONS,
        "4, 6 or 8",
    )
    if kind == REFERENCE_2_VIDEO and duration not in (None, 8):
        raise VeoInputError("REFERENCE_2_VIDEO makes 8 s clips only")  # kie-models.md §3.3 (P)
    return VeoRequest(str(model), str(kind), "9:16" if ratio == "9:16" else "16:9", images)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass
class VeoTask:
    task_id: str
    request: VeoRequest
    body: dict[str, Any]
    """The generate body exactly as received; record-info returns it as `paramJson`."""
    account: str
    credits: int
    created_at: float
    terminal_at: float
    flag: int
    """The successFlag the task ends with: 1, 2 or 3."""
    error_code: int | None = None
    error_message: str | None = None
    callback_handled: bool = False
    settled: bool = False
    file_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def callback_url(self) -> str | None:
        url = self.body.get("callBackUrl")
        return url if isinstance(url, str) and url else None

    @property
    def result_name(self) -> str:
        return f"{self.task_id}.mp4"

    @property
    def full_hd_name(self) -> str:
        return f"{self.task_id}_1080p.mp4"

    def flag_at(self, now: float) -> int:
        return self.flag if now >= self.terminal_at else GENERATING

    def result_url(self, public_url: str, name: str) -> str:
        return f"{public_url}/files/{self.file_token}/{name}"

    def info(self, public_url: str) -> dict[str, Any]:
        """`response` in record-info, `data.info` in the callback."""
        return {
            "taskId": self.task_id,
            "resultUrls": [self.result_url(public_url, self.result_name)],
            # kie-models.md names originUrls without saying what fills it.
            "originUrls": [],
            "resolution": "720p",
        }

    def record(self, now: float, public_url: str) -> dict[str, Any]:
        flag = self.flag_at(now)
        failed = flag in FAILURES
        return {
            "taskId": self.task_id,
            "paramJson": json.dumps(self.body, separators=(",", ":"), ensure_ascii=False),
            "createTime": _ms(self.created_at),
            "completeTime": _ms(self.terminal_at) if flag != GENERATING else None,
            "successFlag": flag,
            "errorCode": self.error_code if failed else None,
            "errorMessage": self.error_message if failed else None,
            "fallbackFlag": False,
            "response": self.info(public_url) if flag == SUCCESS else None,
        }


class KieVeoApi:
    """The /api/v1/veo routes; registers itself on the state's families on construction."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.tasks: dict[str, VeoTask] = {}
        self.by_token: dict[str, VeoTask] = {}
        self.full_hd_delay_s = DEFAULT_FULL_HD_DELAY_S
        # Tasks whose 1080P file was downloaded (tests check the app fetched it).
        self.full_hd_served: list[str] = []
        """How long get-1080p-video answers 500 "processing" after the task succeeded."""
        self._lock = threading.RLock()
        self._random = random.Random(state.settings.seed)  # noqa: S311 - not security-relevant
        self.dispatcher = CallbackDispatcher(
            state.settings, self._on_due, state.callback_attempts.append, self._prepare
        )
        state.families.append(self)

    def routes(self) -> list[Route]:
        s = self.state
        return [
            Route(
                "/api/v1/veo/generate", guarded(s, "veoGenerate", self.generate), methods=["POST"]
            ),
            Route(
                "/api/v1/veo/record-info",
                guarded(s, "veoRecordInfo", self.record_info),
                methods=["GET"],
            ),
            Route(
                "/api/v1/veo/get-1080p-video",
                guarded(s, "veo1080p", self.full_hd),
                methods=["GET"],
            ),
        ]

    # --- routes ----------------------------------------------------------------------------

    async def generate(self, request: Request, account: str) -> Response:
        state, settings = self.state, self.state.settings
        if not state.create_limiter.try_acquire(account):
            state.refusals["veoGenerate"] += 1
            return kie_error(
                429,
                f"Rate limit exceeded: at most {settings.create_limit} new tasks "
                f"per {settings.create_period_s:g} s",
                http_status=settings.rate_limit_http_status,
            )
        body = await read_json_object(request)
        if body is None:
            return kie_error(422, "Request body must be a JSON object")
        model = body.get("model")
        if model in settings.withdrawn_models:
            return kie_error(505, f"The model {model} is currently disabled")
        if model in settings.paused_models:
            return kie_error(500, "This interface is temporarily paused.")  # kie-models.md §2
        if model in settings.maintenance_models:
            return kie_error(455, "Service is under maintenance, please try again later")
        callback = body.get("callBackUrl")
        if callback not in (None, ""):
            if not is_http_url(callback):
                return kie_error(422, "callBackUrl must be an http(s) URL")
            prefixes = settings.callback_prefixes
            if prefixes is not None and not str(callback).startswith(prefixes):
                # The built-in emulator would otherwise POST wherever a caller asks (blind SSRF).
                return kie_error(422, "callBackUrl must point at this service's own callbacks")
        try:
            parsed = validate(body)
        except VeoInputError as exc:
            return kie_error(422, str(exc))
        task = self._create(parsed, body, account)
        if task is None:
            return kie_error(402, "Insufficient credits")
        # Mounted sub-apps get no lifespan, so the first task starts the callback scheduler.
        self.dispatcher.ensure_running()
        if settings.create_latency_s > 0:
            # After the task exists, like the market createTask: only the answer is late.
            await asyncio.sleep(settings.create_latency_s)
        return kie_ok({"taskId": task.task_id})

    async def record_info(self, request: Request, account: str) -> Response:
        task_id = request.query_params.get("taskId", "").strip()
        if not task_id:
            return kie_error(400, "taskId parameter is required")
        # 10 requests per second per task id (kie-models.md §1).
        if not self.state.query_limiter.try_acquire(task_id):
            self.state.refusals["veoRecordInfo"] += 1
            status = self.state.settings.rate_limit_http_status
            return kie_error(429, "Rate limit exceeded", http_status=status)
        self.state.queries[task_id] += 1
        record = self.record(task_id, account)
        if record is None:
            return JSONResponse({"code": 422, "msg": "recordInfo is null", "data": None})
        return kie_ok(record)

    async def full_hd(self, request: Request, account: str) -> Response:
        task_id = request.query_params.get("taskId", "").strip()
        index = request.query_params.get("index", "0").strip()
        if not task_id:
            return kie_error(400, "taskId parameter is required")
        if index != "0":
            return kie_error(422, "index out of range: the task has 1 video")
        now = time.time()
        with self._lock:
            task = self._visible(task_id, account)
            if task is None:
                return JSONResponse({"code": 422, "msg": "recordInfo is null", "data": None})
            if task.request.aspect_ratio != "16:9":
                # The Veo quickstart (docs.kie.ai old-model) offers 1080P for 16:9 videos;
                # kie-models.md §3.3 does not say which ratios it covers.
                return kie_error(422, "1080P video is only available for 16:9 videos")
            flag = task.flag_at(now)
            ready = flag == SUCCESS and now >= task.terminal_at + self.full_hd_delay_s
            url = task.result_url(self.state.public_url, task.full_hd_name)
        if flag in FAILURES:
            return kie_error(422, "The video generation task failed: no 1080P version")
        if not ready:
            # Kie answers 500 until the 1080P version is made (kie-models.md §3.3).
            return kie_error(500, "The 1080P video is still processing, try again later")
        return kie_ok({"resultUrl": url})

    # --- tasks -----------------------------------------------------------------------------

    def _create(self, request: VeoRequest, body: dict[str, Any], account: str) -> VeoTask | None:
        now = time.time()
        settings = self.state.settings
        credits = VEO_MODELS[request.model]
        state = self.state
        # The market tasks' lock guards the shared balance.
        with state._lock, self._lock:
            if state.out_of_credits or state.balance < credits:
                return None
            failed = self._random.random() < settings.failure_rate
            flag = self._random.choice((FAILED, GENERATION_FAILED)) if failed else SUCCESS
            code, message = FAILURES.get(flag, (None, None))
            # Kie fetches input files when the task runs: an expired upload fails the task.
            missing = next((url for url in request.image_urls if self._gone(url)), None)
            if missing is not None:
                flag, code = GENERATION_FAILED, FAILURES[GENERATION_FAILED][0]
                message = f"Failed to download the input file: {missing}"
            task = VeoTask(
                task_id=f"veo_task_{uuid.uuid4().hex}",
                request=request,
                body=body,
                account=account,
                credits=credits,
                created_at=now,
                terminal_at=now + settings.video_duration_s,
                flag=flag,
                error_code=code,
                error_message=message,
            )
            self.tasks[task.task_id] = task
            self.by_token[task.file_token] = task
            state.balance = round(state.balance - credits, 2)
        self.dispatcher.schedule(task.task_id, task.terminal_at)
        if task.flag == SUCCESS:
            self.dispatcher.schedule_prepare(
                task.task_id, task.terminal_at, settings.video_duration_s
            )
        return task

    def _gone(self, url: str) -> bool:
        """An upload URL of this emulator whose file expired or never existed."""
        prefix = self.state.public_url + TEMPFILE_PREFIX
        return url.startswith(prefix) and self.state.upload(url[len(prefix) :]) is None

    def _visible(self, task_id: str, account: str | None) -> VeoTask | None:
        # Another account's task looks exactly like an unknown one.
        task = self.tasks.get(task_id)
        if task is None or (account is not None and task.account != account):
            return None
        return task

    def record(self, task_id: str, account: str | None = None) -> dict[str, Any] | None:
        """The record-info `data` for a task, or None when `account` cannot see it."""
        now = time.time()
        with self._lock:
            task = self._visible(task_id, account)
            if task is None:
                return None
            if task.flag_at(now) != GENERATING:
                self._settle(task)
            return task.record(now, self.state.public_url)

    def force_success(self, task_id: str) -> None:
        """End a running task successfully now (its callback follows at once)."""
        self._force(task_id, SUCCESS, None, None)

    def force_fail(
        self, task_id: str, flag: int = GENERATION_FAILED, code: int | None = None, msg: str = ""
    ) -> None:
        """End a running task now with successFlag 2 or 3."""
        if flag not in FAILURES:
            raise ValueError(f"successFlag {flag} is not a failure")
        default_code, default_msg = FAILURES[flag]
        self._force(task_id, flag, code or default_code, msg or default_msg)

    def _force(self, task_id: str, flag: int, code: int | None, msg: str | None) -> None:
        now = time.time()
        with self._lock:
            task = self.tasks[task_id]
            if task.flag_at(now) != GENERATING:
                raise ValueError(f"task {task_id} has already ended")
            task.flag, task.error_code, task.error_message = flag, code, msg
            task.terminal_at = now
        self.dispatcher.schedule(task_id, now)

    def _settle(self, task: VeoTask) -> None:
        # Failed tasks are not charged, as for the market tasks.
        if not task.settled:
            task.settled = True
            if task.flag != SUCCESS:
                with self.state._lock:
                    self.state.balance = round(self.state.balance + task.credits, 2)

    def _on_due(self, task_id: str, due: float, progress: int | None) -> list[Delivery]:
        state, settings = self.state, self.state.settings
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None or task.terminal_at != due or task.callback_handled:
                return []  # stale entry: the task was forced to end at another time
            task.callback_handled = True
            self._settle(task)
            url = task.callback_url
            if url is None or not settings.callback_enabled:
                return []
            if state.drop_callbacks:
                state.dropped_callbacks.append(task_id)
                return []
            prompt_json = json.dumps({"prompt": task.body.get("prompt")}, ensure_ascii=False)
            data: dict[str, Any] = {
                "taskId": task.task_id,
                "info": None,
                "fallbackFlag": False,
                "promptJson": prompt_json,
            }
            if task.flag == SUCCESS:
                data["info"] = task.info(state.public_url)
                body = {"code": 200, "msg": SUCCESS_MSG, "data": data}
            else:
                body = {"code": task.error_code, "msg": task.error_message, "data": data}
        return [Delivery(task_id, url, body)] * (1 + max(0, state.duplicate_callbacks))

    # --- EmulatorState family --------------------------------------------------------------

    async def result_file(self, token: str, name: str) -> tuple[str, bytes] | None:
        """`(task id, bytes)` for one of this family's result files, else None."""
        task = self.by_token.get(token)
        if task is None or name not in (task.result_name, task.full_hd_name):
            return None
        now = time.time()
        if task.flag_at(now) != SUCCESS:
            return None
        if name == task.full_hd_name:
            if now < task.terminal_at + self.full_hd_delay_s:
                return None
            self.full_hd_served.append(task.task_id)
        # The 1080P URL serves the same placeholder clip.
        data = await self.state.renders.get_or_render(
            (task.task_id, "video"), lambda: self._render(task)
        )
        return task.task_id, data

    async def _prepare(self, task_id: str) -> None:
        """Render a task's clip before it ends, as for the market tasks (media.prepare_result)."""
        task = self.tasks.get(task_id)
        if task is not None and task.flag == SUCCESS and time.time() < task.terminal_at:
            await self.state.renders.get_or_render(
                (task.task_id, "video"), lambda: self._render(task)
            )

    async def _render(self, task: VeoTask) -> bytes:
        reference: bytes | None = None
        note = ""
        if task.request.image_urls:
            found = await local_file(self.state, task.request.image_urls[0])
            reference = found[0] if found is not None else None
            note = "" if found is not None else MISSING_REFERENCE
        duration = task.body.get("duration") or 8
        return await asyncio.to_thread(
            render_video,
            str(task.body.get("prompt", "")),
            task.request.aspect_ratio,
            seed=task.task_id,
            caption=f"{task.request.model} · {duration} s placeholder",
            reference=reference,
            note=note,
            duration_s=clip_seconds(self.state, duration),
        )

    async def aclose(self) -> None:
        await self.dispatcher.aclose()


def veo_of(state: EmulatorState) -> KieVeoApi:
    """The Veo family registered on `state` (tests steer it through this)."""
    return next(f for f in state.families if isinstance(f, KieVeoApi))
