"""Result files of finished tasks, rendered on first request and cached."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool

from image2ad.providers.base import TaskState
from image2ad.providers.emulator.catalog import image_aspect_ratio, video_aspect_ratio
from image2ad.providers.emulator.render import render_image
from image2ad.providers.emulator.state import EmulatorState, Task


def _render(task: Task, name: str) -> bytes:
    inp = task.input
    prompt = str(inp.get("prompt", ""))
    if task.spec.is_video:
        caption = f"{task.spec.name} · {inp.get('n_frames', '10')} s video placeholder"
        if name.endswith("_watermark.png"):
            caption += " · watermarked copy"
        return render_image(prompt, video_aspect_ratio(inp), seed=task.task_id, caption=caption)
    return render_image(
        prompt,
        image_aspect_ratio(inp),
        image_format="jpeg" if inp.get("output_format") == "jpeg" else "png",
        seed=task.task_id,
        caption=task.spec.name,
    )


def media_type(name: str) -> str:
    return "image/jpeg" if name.endswith((".jpg", ".jpeg")) else "image/png"


async def result_file(state: EmulatorState, task_id: str, name: str) -> bytes | None:
    """The bytes behind a result URL, or None unless the task succeeded and owns `name`."""
    task = state.tasks.get(task_id)
    if task is None or name not in task.result_names:
        return None
    if task.state_at(time.time()) is not TaskState.SUCCESS:
        return None
    data = state.cached_render(task_id, name)
    if data is None:
        data = await run_in_threadpool(_render, task, name)
        state.cache_render(task_id, name, data)
    return data
