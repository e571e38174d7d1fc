"""Knobs of the Kie emulator: auth, timings, limits, failure injection."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from image2ad.providers.emulator.catalog import SORA_MODELS


def _env_models(name: str, default: tuple[str, ...]) -> frozenset[str]:
    """A comma-separated model list from the environment; unset means `default`."""
    raw = os.environ.get(name)
    if raw is None:
        return frozenset(default)
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass
class EmulatorSettings:
    api_key: str | None = None
    """Only this Bearer key is accepted; None accepts any non-empty key."""
    admin_key: str | None = None
    """The test-steering routes (/_admin/…) exist only when this is set, and take only this
    Bearer key."""
    callback_prefixes: tuple[str, ...] | None = None
    """When set, createTask refuses callback URLs that start with none of these: the built-in
    emulator calls back only the app it is mounted in. None accepts any http(s) URL."""
    public_url: str = "http://127.0.0.1:8000/_emulator"
    """Absolute base URL where this app is reachable; every emitted URL starts with it."""
    webhook_hmac_key: str | None = None
    """When set, callbacks carry X-Webhook-Timestamp / X-Webhook-Signature."""
    create_limit: int = 20
    """createTask calls allowed per account per create_period_s (more get code 429)."""
    create_period_s: float = 10.0
    query_limit: int = 10
    """recordInfo calls allowed per task id per query_period_s (kie-models.md §1: 10/s per
    taskId, not per key)."""
    query_period_s: float = 1.0
    discovery_limit: int = 1
    """Calls to /api/v1/models and its /price, /schema, /success-rate allowed per account per
    discovery_period_s: one shared budget of 1/s on Kie (kie-models.md §1)."""
    discovery_period_s: float = 1.0
    rate_limit_http_status: int = 200
    """HTTP status of a code-429 answer. Kie's skill: the 429 comes in the body with HTTP 200;
    its Getting Started page says HTTP 429 (kie-models.md §1); set 429 for that form."""
    image_duration_s: float = 3.0
    """Time from createTask to the terminal state for the image models."""
    video_duration_s: float = 10.0
    """Time from createTask to the terminal state for the Sora models."""
    latency_s: float = 0.0
    """Extra delay before every API response, after the request has been handled."""
    create_latency_s: float = 0.0
    """Further delay on createTask answers only, after the task exists (lost-answer tests)."""
    failure_rate: float = 0.0
    """Probability that a task ends in state=fail."""
    callback_enabled: bool = True
    callback_timeout_s: float = 15.0
    callback_attempts: int = 3
    """Deliveries per callback, counting the first, on non-2xx or network errors."""
    callback_backoff_s: float = 0.5
    """Wait before the first redelivery; doubles for each further one."""
    unauthenticated_http_status: int = 200
    """Kie answers bad auth with HTTP 200 and body code 401."""
    withdrawn_models: frozenset[str] = frozenset()
    """createTask for these models is rejected with body code 505; /api/v1/models omits them."""
    paused_models: frozenset[str] = field(
        default_factory=lambda: _env_models("IMAGE2AD_EMULATOR_PAUSED_MODELS", SORA_MODELS)
    )
    """createTask answers body code 500 "This interface is temporarily paused." and creates no
    task (kie-models.md §2). Env IMAGE2AD_EMULATOR_PAUSED_MODELS (comma-separated) overrides
    the default, the Sora 2 names Kie paused in June 2026."""
    maintenance_models: frozenset[str] = field(
        default_factory=lambda: _env_models("IMAGE2AD_EMULATOR_MAINTENANCE_MODELS", ())
    )
    """createTask answers body code 455 (maintenance) for these; env
    IMAGE2AD_EMULATOR_MAINTENANCE_MODELS."""
    upload_ttl_s: float = 86_400.0
    """Uploaded files expire this long after upload (24 h on Kie, kie-models.md §1)."""
    video_clip_scale: float = 0.25
    """Result clips last the requested duration times this (10 s → 2.5 s), kept within
    1 to 4 s so rendering stays cheap."""
    seed: int | None = None
    """Seeds failure injection so tests are deterministic."""
    result_padding_bytes: int = 0
    """Zero bytes appended to every image result (image readers ignore them): results big
    enough for a multipart upload."""
