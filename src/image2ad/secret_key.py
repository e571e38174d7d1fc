"""The key that signs cookies and result links: IMAGE2AD_SECRET_KEY, or one generated per data dir.

A key written in the source would let anyone sign a cookie, so none exists. The embedded shape
(one process, SQLite, built-in emulator) generates a random key on first start and keeps it in
the data dir, readable by its owner only; every other shape must be given one explicitly, since
its processes must all share it.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from image2ad.config import Settings

log = logging.getLogger(__name__)

FILE_NAME = "secret_key"
MIN_LENGTH = 16
# Values that were once printed in this project's source or docs: never accepted.
PUBLISHED = frozenset({"image2ad-dev-secret-change-me"})


def signing_key(settings: Settings) -> str:
    """The deployment's signing key; exits with a message when it cannot be had safely."""
    given = settings.secret_key
    if given is not None:
        if given in PUBLISHED or len(given) < MIN_LENGTH:
            raise SystemExit(
                f"IMAGE2AD_SECRET_KEY must be a private random value of at least {MIN_LENGTH} "
                "characters (e.g. `openssl rand -hex 32`); a published value signs nothing."
            )
        return given
    if not settings.is_embedded:
        raise SystemExit(
            "IMAGE2AD_SECRET_KEY must be set, to the same private random value in every "
            "process, outside the embedded setup (SQLite + built-in emulator)."
        )
    return load_or_create(settings.data_dir / FILE_NAME)


def load_or_create(path: Path) -> str:
    """The key kept at `path`, created (mode 0600) when absent. Safe when processes race."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            # link() never replaces: the first process to arrive decides the key for all.
            os.link(staging, path)
            log.info("generated a signing key in %s (keep it private; see README)", path)
        except FileExistsError:
            pass
    finally:
        staging.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("%s was readable by others; its mode is now 0600", path)
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise SystemExit(f"{path} holds no usable key; delete it to generate a new one.")
    return key
