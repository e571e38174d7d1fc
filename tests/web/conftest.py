from __future__ import annotations

# Fixtures from tests/fixtures/browser.py, available to the web tests only.
from tests.fixtures.browser import browser, page, shots  # noqa: F401
