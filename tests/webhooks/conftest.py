from __future__ import annotations

from collections.abc import Iterator

import pytest

from image2ad.config import WebhookSettings

# The browser fixtures, for the page's tests.
from tests.fixtures.browser import browser, page, shots  # noqa: F401
from tests.fixtures.live_app import LiveApp

# Short pauses so a whole schedule runs in seconds.
FAST_DELAYS = [0.4, 0.8]


@pytest.fixture
def hooks(live_app: LiveApp) -> Iterator[LiveApp]:
    """The shared live app with IMAGE2AD_WEBHOOKS_ALLOW_PRIVATE=1 (the receivers are on
    loopback) and a short retry schedule, as it would read them from its environment; restored
    afterwards. Settings are read at each use, so the running app sees them at once."""
    runtime = live_app.app.state.runtime
    saved = runtime.settings.webhooks
    runtime.settings.webhooks = WebhookSettings(allow_private=True, retry_delays_s=FAST_DELAYS)
    try:
        yield live_app
    finally:
        runtime.settings.webhooks = saved
