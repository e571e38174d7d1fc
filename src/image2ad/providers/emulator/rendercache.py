"""Rendered result files: bounded, and each one rendered once even when requested twice."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable

Key = tuple[str, str]


class RenderCache:
    def __init__(self, max_items: int = 128, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: dict[Key, asyncio.Future[bytes]] = {}

    def get(self, key: Key) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: Key, data: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes += len(data) - (len(old) if old is not None else 0)
            self._items[key] = data
            while len(self._items) > 1 and (
                len(self._items) > self.max_items or self._bytes > self.max_bytes
            ):
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted)

    def __len__(self) -> int:
        return len(self._items)

    async def get_or_render(self, key: Key, render: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached bytes for `key`, rendering them first unless a render is under way."""
        data = self.get(key)
        if data is not None:
            return data
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._render(key, render))
            self._pending[key] = pending
        # Shielded: a client that hangs up must not cancel a render others may be waiting for.
        return await asyncio.shield(pending)

    async def _render(self, key: Key, render: Callable[[], Awaitable[bytes]]) -> bytes:
        try:
            data = await render()
            self.put(key, data)
            return data
        finally:
            self._pending.pop(key, None)
