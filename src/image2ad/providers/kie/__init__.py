"""Kie.ai provider: HTTP client, wire models and callback helpers."""

from image2ad.providers.kie.callbacks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    extract_task_id,
    sign,
    verify_signature,
)
from image2ad.providers.kie.client import KieClient

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "KieClient",
    "extract_task_id",
    "sign",
    "verify_signature",
]
