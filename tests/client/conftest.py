from __future__ import annotations

from tests.fixtures.s3 import moto_s3

__all__ = ["moto_s3"]
