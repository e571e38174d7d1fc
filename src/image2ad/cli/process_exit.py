"""How an `image2ad` process ends once its command has finished.

obstore (the S3 store) runs its calls on a Tokio runtime whose worker threads take the GIL
once more after a call's result has reached Python. If one does so while the interpreter is
finalizing, CPython ends that thread with pthread_exit; the unwind crosses Rust frames and the
whole process aborts (SIGABRT, exit code -6) after the command itself succeeded. Measured: one
in ten short processes that made a single S3 call. Nothing in obstore lets us stop those
threads, so a process that loaded it skips interpreter finalization: it flushes what
finalization would have flushed, then leaves with os._exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

_RUST_RUNTIMES = ("obstore",)


def exit_code_of(exc: SystemExit) -> int:
    """The status `sys.exit(exc.code)` would give, printing a message code as Python does."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def end_process(code: int) -> NoReturn:
    """End with `code` once the command is done (see the module's docstring for why so)."""
    if not any(name in sys.modules for name in _RUST_RUNTIMES):
        sys.exit(code)
    leave_now(code)


def leave_now(code: int) -> NoReturn:
    """Flush logs and output, then exit without finalizing the interpreter or joining threads."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`image2ad … | head`) leaves nothing to deliver.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
