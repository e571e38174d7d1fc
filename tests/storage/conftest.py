from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from image2ad.storage.base import Storage
from image2ad.storage.local import LocalStorage
from image2ad.storage.s3 import S3Storage
from tests.fixtures.s3 import MotoS3, moto_s3, s3_prefix

__all__ = ["moto_s3", "s3_prefix"]


@pytest.fixture
def s3_storage(moto_s3: MotoS3, s3_prefix: str) -> S3Storage:
    return S3Storage.from_url(moto_s3.url(s3_prefix), moto_s3.settings())


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The same contract, run against every store."""
    if request.param == "local":
        yield LocalStorage(tmp_path / "files")
    else:
        yield request.getfixturevalue("s3_storage")
