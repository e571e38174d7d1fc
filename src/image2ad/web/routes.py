"""Every page route, and the static files they use (served by us; no CDN)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from image2ad.web import accounts, generate, keys, library, packs, resets, sessions
from image2ad.web.render import STATIC_DIR

router = APIRouter(include_in_schema=False)
router.include_router(accounts.router)
router.include_router(generate.router)
router.include_router(library.router)
router.include_router(packs.router)
router.include_router(keys.router)
router.include_router(sessions.router)
router.include_router(resets.router)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
