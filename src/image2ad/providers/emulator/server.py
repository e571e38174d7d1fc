"""Run the emulator as a standalone server (`image2ad emulator`)."""

from __future__ import annotations

from dataclasses import replace

import uvicorn

from image2ad.providers.emulator.app import create_app
from image2ad.providers.emulator.settings import EmulatorSettings


def standalone_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only compared
    return f"http://{shown}:{port}"


def serve(settings: EmulatorSettings, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the emulator at the root of host:port until interrupted (blocking).

    A `public_url` left at its default (which assumes mounting under /_emulator on port 8000)
    is replaced with this server's own root URL.
    """
    if settings.public_url == EmulatorSettings.public_url:
        settings = replace(settings, public_url=standalone_url(host, port))
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
