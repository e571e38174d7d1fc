from __future__ import annotations

import pytest

# Fixtures from tests/fixtures/browser.py, available to the web tests only.
from tests.fixtures.browser import browser, page  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: end-to-end in headless Chromium (runs once, on SQLite)"
    )
