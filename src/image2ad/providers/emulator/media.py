"""Result files of finished tasks: rendered ahead of the task's end, else on first request,
and cached."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from image2ad.providers.base import TaskState
from image2ad.providers.emulator.catalog import (
    image_aspect_ratio,
    image_format,
    image_long_side,
    video_aspect_ratio,
    video_reference_url,
)
from image2ad.providers.emulator.render import render_image
from image2ad.providers.emulator.task import Task
from image2ad.providers.emulator.video import render_video

if TYPE_CHECKING:
    # The state calls prepare_result, so this module cannot import it at run time.
    from image2ad.providers.emulator.state import EmulatorState

TEMPFILE_PREFIX = "/tempfile/"
RESULT_PREFIX = "/files/"
MISSING_REFERENCE = "reference image not on this emulator: text only"
CLIP_SECONDS = (1.0, 4.0)
"""Shortest and longest result clip, whatever the requested duration."""

_MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".mp4": "video/mp4"}


def media_type(name: str) -> str:
    return next((t for ext, t in _MEDIA_TYPES.items() if name.endswith(ext)), "image/png")


def task_of(state: EmulatorState, token: str) -> Task | None:
    """The task whose result folder is `token`."""
    return state.tasks_by_token.get(token)


async def result_file(state: EmulatorState, token: str, name: str) -> bytes | None:
    """The bytes behind a result URL, or None unless the task succeeded and owns `name`."""
    task = task_of(state, token)
    if task is None or name not in task.result_names:
        return None
    if task.state_at(time.time()) is not TaskState.SUCCESS:
        return None
    return await state.renders.get_or_render(_render_key(task, name), lambda: _render(state, task))


async def prepare_result(state: EmulatorState, task_id: str) -> None:
    """Render a task's result files before it ends, unless it is set to fail.

    Kie's files exist by the task's `completeTime`; rendering them on the first download
    would add the emulator's drawing time to every result's download.
    """
    task = state.tasks.get(task_id)
    # A task forced to end early has had its files asked for already, or will render them then.
    if task is None or task.outcome is not TaskState.SUCCESS or time.time() >= task.terminal_at:
        return
    for key in dict.fromkeys(_render_key(task, name) for name in task.result_names):
        await state.renders.get_or_render(key, lambda: _render(state, task))


def _render_key(task: Task, name: str) -> tuple[str, str]:
    # The clean and the "watermarked" Sora URLs serve the same clip.
    return (task.task_id, "video" if task.spec.is_video else name)


async def local_file(state: EmulatorState, url: str) -> tuple[bytes, str] | None:
    """A file this emulator serves itself (an upload or a result) with its type, else None.

    Never fetches over the network: the emulator must not become an open proxy.
    """
    base = state.public_url
    if url.startswith(base + TEMPFILE_PREFIX):
        path = url[len(base + TEMPFILE_PREFIX) :]
        stored = state.upload(path) or state.upload(unquote(urlsplit(path).path))
        return (stored.data, stored.mime_type) if stored else None
    if url.startswith(base + RESULT_PREFIX):
        token, _, name = url[len(base + RESULT_PREFIX) :].partition("/")
        data = await result_file(state, token, name)
        return (data, media_type(name)) if data is not None else None
    return None


def _prompt(task: Task) -> str:
    prompt = task.input.get("prompt")
    if isinstance(prompt, str):
        return prompt
    # Kling multi-shot requests carry their text per shot.
    shots = task.input.get("multi_prompt")
    if isinstance(shots, list):
        return " / ".join(str(s.get("prompt", "")) for s in shots if isinstance(s, dict))
    return ""


def clip_seconds(state: EmulatorState, requested_s: int) -> float:
    """The result clip's length: the requested duration scaled down (video_clip_scale)."""
    low, high = CLIP_SECONDS
    return min(high, max(low, requested_s * state.settings.video_clip_scale))


async def _render(state: EmulatorState, task: Task) -> bytes:
    inp = task.input
    if not task.spec.is_video:
        image = await asyncio.to_thread(
            render_image,
            _prompt(task),
            image_aspect_ratio(inp),
            image_format=image_format(task.spec, inp),
            seed=task.task_id,
            caption=task.spec.name,
            long_side=image_long_side(inp),
        )
        return image + bytes(state.settings.result_padding_bytes)
    reference: bytes | None = None
    note = ""
    url = video_reference_url(inp)
    if url is not None:
        found = await local_file(state, url)
        reference = found[0] if found is not None else None
        note = "" if found is not None else MISSING_REFERENCE
    requested_s = task.spec.seconds(inp)
    return await asyncio.to_thread(
        render_video,
        _prompt(task),
        video_aspect_ratio(inp),
        seed=task.task_id,
        caption=f"{task.spec.name} · {requested_s} s placeholder",
        reference=reference,
        note=note,
        duration_s=clip_seconds(state, requested_s),
    )
