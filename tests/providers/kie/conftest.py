from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from image2ad.providers.kie import KieClient

from .scripted_server import Action, ScriptedServer

API_KEY = "kie-secret-key-4f1d9c"

StartServer = Callable[[list[Action]], Awaitable[ScriptedServer]]
MakeClient = Callable[..., KieClient]


@pytest.fixture
async def scripted() -> AsyncIterator[StartServer]:
    servers: list[ScriptedServer] = []

    async def start(script: list[Action]) -> ScriptedServer:
        server = ScriptedServer(script)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """KieClient with fast retries; every client is closed at teardown."""
    clients: list[KieClient] = []

    def make(base_url: str, **overrides: object) -> KieClient:
        options: dict[str, object] = {
            "upload_base_url": base_url,
            "timeout_s": 2.0,
            "max_retries": 2,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
        }
        options.update(overrides)
        client = KieClient(API_KEY, base_url, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
