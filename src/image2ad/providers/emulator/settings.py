"""Knobs of the Kie emulator: auth, timings, limits, failure injection."""

from __future__ import annotations

from dataclasses import dataclass


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
    """createTask calls allowed per account per create_period_s (more get HTTP 429)."""
    create_period_s: float = 10.0
    query_limit: int = 10
    """recordInfo calls allowed per API key per query_period_s."""
    query_period_s: float = 1.0
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
    """createTask for these models is rejected with body code 505."""
    seed: int | None = None
    """Seeds failure injection so tests are deterministic."""
    result_padding_bytes: int = 0
    """Zero bytes appended to every image result (image readers ignore them): results big
    enough for a multipart upload."""
