"""`emulator`, `start_emulator` and `callback_sink` come from tests/fixtures/emulator.py."""

from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.emulator import RunningEmulator, run_emulator


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[RunningEmulator]:
    """One emulator per module, for tests that neither turn knobs nor count calls.

    Sora 2 is not paused on it, so its input rules stay covered.
    """
    with run_emulator(paused_models=frozenset()) as emu:
        yield emu


@pytest.fixture
def kie(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


@pytest.fixture
def shared_kie(shared_emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with shared_emulator.client() as client:
        yield client
