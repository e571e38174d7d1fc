"""Re-checking the models Kie refused: a create with an empty input costs nothing and tells a
live model ("prompt is required") from a paused, unknown or switched-off one (kie-models.md §2).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from image2ad.catalog import availability
from image2ad.models import ModelStatus
from image2ad.models.base import utcnow
from image2ad.providers.errors import (
    ProviderError,
    ProviderModelUnavailable,
    ProviderSubmitUncertain,
)
from image2ad.runtime import Runtime

log = logging.getLogger(__name__)

# A probe's claim on a mark: another process skips it meanwhile.
PROBE_LEASE = timedelta(minutes=1)


async def recheck_due(rt: Runtime) -> None:
    rows = await asyncio.to_thread(_claim_due, rt)
    for row in rows:
        kind = await probe(rt, row.api, row.provider_model)
        await asyncio.to_thread(_record, rt, row.provider_model, kind)


def _claim_due(rt: Runtime) -> list[ModelStatus]:
    with rt.db.session() as session:
        return availability.due(session, utcnow(), PROBE_LEASE)


async def probe(rt: Runtime, api: str, provider_model: str) -> str | None:
    """None when Kie runs the model again, else why not (a failed probe keeps the mark)."""
    await rt.create_slot()
    try:
        await rt.task_api(api).create_task(provider_model, {})
    except ProviderModelUnavailable as exc:
        return exc.kind
    except ProviderSubmitUncertain:
        return "unanswered"
    except ProviderError as exc:
        # A refusal about the input itself: the model is there and checks what it is sent.
        log.info("probe of %s: live (%s)", provider_model, exc.message)
    return None


def _record(rt: Runtime, provider_model: str, kind: str | None) -> None:
    recheck = timedelta(seconds=rt.settings.jobs.model_recheck_s)
    with rt.db.session() as session:
        if kind is None:
            availability.mark_available(session, provider_model)
            log.warning("model %s runs again at Kie", provider_model)
        else:
            availability.still_unavailable(session, provider_model, recheck)
