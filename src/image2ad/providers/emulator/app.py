"""The emulator as one ASGI app serving both Kie hosts' paths (kie-api.md §10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from image2ad.providers.emulator.admin import AdminApi
from image2ad.providers.emulator.api import KieApi
from image2ad.providers.emulator.settings import EmulatorSettings
from image2ad.providers.emulator.state import EmulatorState
from image2ad.providers.emulator.upload_api import UploadApi
from image2ad.providers.emulator.uploads import MAX_FILE_BYTES
from image2ad.providers.emulator.veo import KieVeoApi

# A 100 MB file is ~134 MB as base64, plus JSON or multipart framing.
MAX_BODY_BYTES = MAX_FILE_BYTES * 3 // 2


def create_app(settings: EmulatorSettings) -> Starlette:
    """Build the emulator; its state is `app.state.emulator` (an EmulatorState)."""
    state = EmulatorState(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            await state.aclose()

    routes = [*KieApi(state).routes(), *UploadApi(state).routes(), *AdminApi(state).routes()]
    routes += KieVeoApi(state).routes()
    app = Starlette(routes=routes, lifespan=lifespan, max_body_size=MAX_BODY_BYTES)
    app.state.emulator = state
    return app
