"""The FastAPI application: API, callbacks, and (embedded) the worker and the Kie emulator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from image2ad import files, health
from image2ad.account import endpoints as account
from image2ad.admin import endpoints as admin
from image2ad.admin import pages as admin_pages
from image2ad.brand import endpoints as brand
from image2ad.brand import pages as brand_pages
from image2ad.catalog import endpoints as catalog
from image2ad.config import EMULATOR_MOUNT, Settings
from image2ad.credits import endpoints as credits
from image2ad.credits import pages as credit_pages
from image2ad.errors import DomainError
from image2ad.functions import endpoints as functions
from image2ad.heap import freeze_startup_objects
from image2ad.jobs import callbacks, drain, engine, workers
from image2ad.jobs import endpoints as jobs
from image2ad.jobs import export_endpoints as jobs_export
from image2ad.jobs.callbacks import CallbackChecks
from image2ad.jobs.checker import Sweeper
from image2ad.net.headers import NoSniff
from image2ad.observability import endpoints as observability
from image2ad.observability.context import RequestId
from image2ad.observability.provider import ProviderCheck
from image2ad.packs import endpoints as packs
from image2ad.runtime import Runtime, install
from image2ad.shares import endpoints as shares
from image2ad.shares import pages as share_pages
from image2ad.uploads import endpoints as uploads
from image2ad.web import routes as web
from image2ad.web.errors import error_page, is_page
from image2ad.webhooks import endpoints as webhooks
from image2ad.webhooks import pages as webhook_pages

log = logging.getLogger(__name__)
# Every body the API takes is a small JSON document or form, except an upload (its route sets
# its own limit) and the built-in emulator's (its app does): a stranger cannot make us buffer
# more than this.
MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings, *, worker: bool = True, settle_heap: bool = False) -> FastAPI:
    """Build the app. `worker=False` serves only HTTP (scale-out API processes).

    `settle_heap` freezes the start-up objects out of the garbage collector once started (the
    CLI's `serve`, which runs one app per process).
    """
    settings.check_secrets()
    runtime = Runtime.build(settings, role="serve" if worker else "api")
    emulator_app = _emulator_app(runtime) if settings.uses_emulator else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install(runtime)
        engine.configure(runtime, listen=worker)
        await engine.launch(runtime)
        sweeper = Sweeper(runtime) if worker else None
        # The sweeper beats for a worker; an API-only process beats on its own.
        background = asyncio.create_task(
            sweeper.run_forever() if sweeper else workers.beat_forever(runtime)
        )
        app.state.sweeper = sweeper
        if settle_heap:
            freeze_startup_objects()
        try:
            yield
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
            if sweeper is not None:
                await sweeper.aclose()
            await app.state.callback_checks.aclose()
            # The built-in emulator stopped serving with the server: workflows waiting on it
            # cannot finish here, so they are handed over at once.
            grace = settings.shutdown_grace_s if worker and emulator_app is None else 0.0
            if not grace:
                # Nothing runs on: close the provider clients while the engine's event loop
                # still runs (it is closed with the engine), so no connection is left open.
                await runtime.aclose()
            await drain.stop_engine(runtime, grace)
            if emulator_app is not None:
                await emulator_app.state.emulator.aclose()
            await runtime.aclose()
            runtime.db.dispose()

    app = FastAPI(
        title="image2ad",
        version="0.1.0",
        summary="Ad images and videos from Kie.ai, as durable credit-metered jobs.",
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.runtime = runtime
    app.state.callback_checks = CallbackChecks()
    app.state.provider_check = ProviderCheck()
    app.state.emulator = emulator_app.state.emulator if emulator_app is not None else None
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        # supabase-js sends `apikey` and `x-client-info` with every call to /functions/v1.
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "apikey",
            "x-client-info",
        ],
    )
    app.add_middleware(NoSniff)
    app.add_middleware(RequestId)
    _install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(observability.router)
    app.include_router(account.router)
    app.include_router(credits.router)
    app.include_router(uploads.router)
    app.include_router(catalog.router)
    app.include_router(jobs.router)
    app.include_router(jobs_export.router)
    app.include_router(functions.router)
    app.include_router(packs.router)
    app.include_router(files.router)
    app.include_router(callbacks.router)
    app.include_router(admin.router)
    app.include_router(admin_pages.router)
    app.include_router(brand.router)
    app.include_router(brand_pages.router)
    app.include_router(shares.router)
    app.include_router(share_pages.router)
    app.include_router(credit_pages.router)
    app.include_router(webhooks.router)
    app.include_router(webhook_pages.router)
    app.include_router(web.router)
    app.mount("/static", web.static_files(), name="static")
    if emulator_app is not None:
        app.mount(EMULATOR_MOUNT, emulator_app)
    return app


def _emulator_app(runtime: Runtime) -> Any:
    from image2ad.providers.emulator.app import create_app as create_emulator
    from image2ad.providers.emulator.settings import EmulatorSettings

    knobs = runtime.settings.emulator
    admin_key = knobs.admin_key.get_secret_value() if knobs.admin_key else None
    return create_emulator(
        EmulatorSettings(
            api_key=runtime.kie_api_key,
            admin_key=admin_key or None,
            callback_prefixes=(runtime.callback_prefix,),
            public_url=runtime.kie_base_url,
            image_duration_s=knobs.image_duration_s,
            video_duration_s=knobs.video_duration_s,
            failure_rate=knobs.failure_rate,
            create_limit=runtime.settings.kie.create_limit,
            create_period_s=runtime.settings.kie.create_period_s,
            query_limit=runtime.settings.kie.query_limit,
        )
    )


def _error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    error.update({k: v for k, v in extra.items() if v is not None})
    return {"error": error}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if is_page(request):
            return await error_page(request, exc.status_code, exc.message, exc.headers)
        return JSONResponse(
            _error_body(exc.code, exc.message, **exc.extra),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(location) or None
        message = first.get("msg", "Invalid request.")
        text = f"{field}: {message}" if field else message
        if is_page(request):
            return await error_page(request, 422, text)
        return JSONResponse(
            _error_body(
                "invalid_input",
                text,
                field=field,
                details=[
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()
                ],
            ),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_page(request):
            return await error_page(request, exc.status_code, str(exc.detail), exc.headers)
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}
        return JSONResponse(
            _error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def unrepresentable_input(request: Request, exc: DataError) -> Response:
        # The database cannot hold what was sent (e.g. a NUL byte in a path or query value).
        if is_page(request):
            return await error_page(request, 422, "The request contains invalid characters.")
        return JSONResponse(
            _error_body("invalid_input", "The request contains invalid characters."),
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> Response:
        # The database refused or dropped the connection (restart, failover, no free slots):
        # a passing condition for the client to retry, not a bug.
        log.warning("database unavailable: %s", exc.orig or exc)
        if is_page(request):
            return await error_page(request, 503, "The service is busy; try again shortly.")
        return JSONResponse(
            _error_body("service_unavailable", "The service is busy; try again shortly."),
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        if is_page(request):
            return await error_page(request, 500, "Something went wrong on our side.")
        return JSONResponse(
            _error_body("internal_error", "Something went wrong on our side."), status_code=500
        )
