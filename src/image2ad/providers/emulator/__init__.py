"""A Kie.ai emulator: a real ASGI app speaking Kie's wire contract, for tests, demos and benches."""

from image2ad.providers.emulator.app import create_app
from image2ad.providers.emulator.settings import EmulatorSettings
from image2ad.providers.emulator.state import EmulatorState

__all__ = ["EmulatorSettings", "EmulatorState", "create_app"]
