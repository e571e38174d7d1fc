"""Peak resident memory of this process over a block of code (Linux /proc)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

STATUS = Path("/proc/self/status")


def status_mib(field: str) -> float:
    """`VmRSS` (now) or `VmHWM` (peak) of this process, in MiB."""
    for line in STATUS.read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024
    raise LookupError(field)


class PeakRss:
    """Growth of peak RSS inside the block: the kernel's high-water mark (reset on entry)
    where it can be reset, and a 5 ms sampler in case it cannot."""

    def __init__(self) -> None:
        self.before = 0.0
        self.peak = 0.0
        self._hwm_reset = False
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    @property
    def growth_mib(self) -> float:
        return max(0.0, self.peak - self.before)

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, status_mib("VmRSS"))

    def __enter__(self) -> PeakRss:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._hwm_reset = True
        except OSError:
            pass
        self.before = self.peak = status_mib("VmRSS")
        self._sampler.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._sampler.join()
        self.peak = max(self.peak, status_mib("VmRSS"))
        if self._hwm_reset:
            self.peak = max(self.peak, status_mib("VmHWM"))
