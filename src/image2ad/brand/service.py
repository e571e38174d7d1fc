"""Brand kit and rendition rules: who may use what, the defaults, and making a rendition."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image
from sqlalchemy.orm import Session

from image2ad.brand import fonts, repository
from image2ad.brand.compose import DEFAULT_COLOUR, BrandLayer, compose, encode
from image2ad.brand.schemas import (
    BrandKitIn,
    BrandKitOut,
    FontOut,
    RenditionCreate,
    RenditionList,
    RenditionOut,
)
from image2ad.errors import Conflict, InvalidInput, NotFound
from image2ad.jobs import repository as jobs
from image2ad.jobs.status import JobStatus
from image2ad.links import LinkSigner
from image2ad.models import BrandKit, Rendition, User
from image2ad.models.base import new_id, utcnow
from image2ad.placements import PLACEMENTS, Placement
from image2ad.placements import get as get_placement
from image2ad.runtime import Runtime
from image2ad.storage import cleanup
from image2ad.storage.base import local_copy
from image2ad.uploads import repository as uploads

# Compositing decodes a whole result: a few at a time bounds the memory it may take.
COMPOSE_SLOTS = 2
MAX_SOURCE_PIXELS = 40_000_000
# Renditions are free: this bounds the storage one job's can take.
MAX_RENDITIONS_PER_JOB = 100
_painters = ThreadPoolExecutor(COMPOSE_SLOTS, thread_name_prefix="brand-compose")


def kit_out(kit: BrandKit | None) -> BrandKitOut:
    """The user's kit, or the defaults when they never saved one."""
    font_list = [FontOut(id=f.id, label=f.label, licence=f.licence) for f in fonts.FONTS.values()]
    if kit is None:
        return BrandKitOut(
            logo_upload_id=None,
            logo_url=None,
            colors=[],
            font=fonts.DEFAULT_FONT,
            headline=None,
            cta=None,
            fonts=font_list,
            updated_at=None,
        )
    return BrandKitOut(
        logo_upload_id=kit.logo_upload_id,
        logo_url=f"/api/v1/uploads/{kit.logo_upload_id}/file" if kit.logo_upload_id else None,
        colors=list(kit.colors),
        font=fonts.get(kit.font).id,
        headline=kit.headline,
        cta=kit.cta,
        fonts=font_list,
        updated_at=kit.updated_at,
    )


def get_kit(session: Session, user: User) -> BrandKitOut:
    return kit_out(repository.get_kit(session, user.id))


def put_kit(session: Session, user: User, body: BrandKitIn) -> BrandKitOut:
    """Replace the user's kit; the logo must be an upload of theirs."""
    if body.logo_upload_id and uploads.get_owned(session, body.logo_upload_id, user.id) is None:
        raise NotFound("logo_upload_id names no upload of yours.", field="logo_upload_id")
    kit = repository.get_kit(session, user.id)
    if kit is None:
        kit = BrandKit(user_id=user.id)
    kit.logo_upload_id = body.logo_upload_id
    kit.colors = list(body.colors)
    kit.font = body.font
    kit.headline = body.headline or None
    kit.cta = body.cta or None
    kit.updated_at = utcnow()
    repository.add(session, kit)
    return kit_out(kit)


def nearest_placement(width: int, height: int) -> Placement:
    """The placement whose ratio is closest to the image's (compared as log ratios)."""
    return min(
        PLACEMENTS.values(),
        key=lambda p: abs(math.log(width / height) - math.log(p.ratio_w / p.ratio_h)),
    )


@dataclass(frozen=True)
class Order:
    """Everything a rendition needs, read in one short unit before the slow work."""

    job_id: str
    user_id: str
    source_key: str
    width: int
    height: int
    placement: Placement
    layer_text: tuple[str | None, str | None]
    font_id: str
    colour: str
    logo_key: str | None


def _pick(requested: str | None, default: str | None) -> str | None:
    # Absent falls back to the kit; an empty string asks for none.
    return (requested if requested is not None else default) or None


def order(session: Session, user: User, job_id: str, body: RenditionCreate) -> Order:
    job = jobs.get_owned(session, job_id, user.id)
    if job is None:
        raise NotFound("No such job.")
    if job.result_type != "image":
        raise InvalidInput("Renditions are made from images; this job is a video.", field="job")
    if job.status != JobStatus.COMPLETED.value or not job.result_path:
        raise InvalidInput(f"This job is {job.status}; wait until it is completed.", field="job")
    if repository.count_of_job(session, job.id) >= MAX_RENDITIONS_PER_JOB:
        raise Conflict(
            f"This image has {MAX_RENDITIONS_PER_JOB} renditions; delete some to make more."
        )
    kit = repository.get_kit(session, user.id)
    headline = _pick(body.headline, kit.headline if kit else None)
    cta = _pick(body.cta, kit.cta if kit else None)
    logo_key = None
    logo_id = kit.logo_upload_id if kit else None
    if body.logo is True and not logo_id:
        raise InvalidInput("Your brand kit has no logo; add one on the Brand page.", field="logo")
    if body.logo is not False and logo_id:
        upload = uploads.get_owned(session, logo_id, user.id)
        logo_key = upload.storage_key if upload else None
    if not headline and not cta and not logo_key:
        raise InvalidInput(
            "Nothing to draw: give a headline or a call to action, or add a logo to your kit.",
            field="headline",
        )
    width, height = job.result_width or 0, job.result_height or 0
    if body.placement:
        placement = get_placement(body.placement, field="placement")
    elif job.placement in PLACEMENTS:
        placement = PLACEMENTS[str(job.placement)]
    else:
        placement = nearest_placement(width or 1, height or 1)
    return Order(
        job_id=job.id,
        user_id=user.id,
        source_key=job.result_path,
        width=width,
        height=height,
        placement=placement,
        layer_text=(headline, cta),
        font_id=fonts.get(kit.font if kit else None).id,
        colour=(kit.colors[0] if kit and kit.colors else DEFAULT_COLOUR),
        logo_key=logo_key,
    )


@dataclass(frozen=True)
class Painted:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _paint(source_path: str, logo_path: str | None, job_order: Order) -> Painted:
    with Image.open(source_path) as source:
        if source.width * source.height > MAX_SOURCE_PIXELS:
            raise InvalidInput("This result is too large to brand.", field="job")
        source.load()
        source_format = source.format
        logo = None
        if logo_path is not None:
            with Image.open(logo_path) as opened:
                opened.load()
                logo = opened.copy()
        headline, cta = job_order.layer_text
        layer = BrandLayer(headline, cta, job_order.font_id, job_order.colour, logo)
        composed = compose(source, job_order.placement, layer)
    data, content_type, extension = encode(composed.image, source_format)
    return Painted(data, content_type, extension, composed.image.width, composed.image.height)


async def _render(rt: Runtime, job_order: Order) -> Painted:
    loop = asyncio.get_running_loop()
    async with local_copy(rt.storage, job_order.source_key) as source_path:
        if job_order.logo_key is None:
            return await loop.run_in_executor(_painters, _paint, source_path, None, job_order)
        async with local_copy(rt.storage, job_order.logo_key) as logo_path:
            return await loop.run_in_executor(_painters, _paint, source_path, logo_path, job_order)


def rendition_out(rendition: Rendition, signer: LinkSigner) -> RenditionOut:
    return RenditionOut(
        id=rendition.id,
        job_id=rendition.job_id,
        url=f"/api/v1/files/{signer.sign(rendition.job_id, rendition.storage_key)}",
        width=rendition.width,
        height=rendition.height,
        content_type=rendition.content_type,
        size=rendition.size,
        placement=rendition.placement,
        headline=rendition.headline,
        cta=rendition.cta,
        logo=rendition.logo,
        created_at=rendition.created_at,
    )


async def create_rendition(
    rt: Runtime, user: User, job_id: str, body: RenditionCreate
) -> RenditionOut:
    """Composite the brand layer on a copy of the job's result and keep it; free of charge."""

    def load() -> Order:
        with rt.db.session(read_only=True) as session:
            return order(session, user, job_id, body)

    job_order = await asyncio.to_thread(load)
    painted = await _render(rt, job_order)
    rendition_id = new_id()
    key = f"renditions/{user.id}/{job_order.job_id}/{rendition_id}.{painted.extension}"

    async def chunks() -> AsyncIterator[bytes]:
        yield painted.data

    await rt.storage.write(key, chunks())

    def save() -> RenditionOut:
        headline, cta = job_order.layer_text
        with rt.db.session() as session:
            # The job may have been deleted while its rendition was painted.
            if jobs.get_owned(session, job_order.job_id, user.id) is None:
                raise NotFound("No such job.")
            rendition = Rendition(
                id=rendition_id,
                job_id=job_order.job_id,
                user_id=user.id,
                storage_key=key,
                content_type=painted.content_type,
                size=len(painted.data),
                width=painted.width,
                height=painted.height,
                headline=headline,
                cta=cta,
                logo=job_order.logo_key is not None,
                placement=job_order.placement.id,
                created_at=utcnow(),
            )
            repository.add(session, rendition)
            return rendition_out(rendition, rt.signer)

    try:
        return await asyncio.to_thread(save)
    except BaseException:
        await cleanup.discard(rt.db, rt.storage, [key], "rendition_not_saved")
        raise


def list_renditions(session: Session, user: User, job_id: str, signer: LinkSigner) -> RenditionList:
    """A job's renditions, newest first."""
    if jobs.get_owned(session, job_id, user.id) is None:
        raise NotFound("No such job.")
    rows = repository.renditions_of(session, job_id, user.id)
    return RenditionList(items=[rendition_out(r, signer) for r in rows])


def delete_rendition(session: Session, user: User, job_id: str, rendition_id: str) -> str:
    """Forget one rendition; returns its storage key for deleting."""
    if jobs.get_owned(session, job_id, user.id) is None:
        raise NotFound("No such job.")
    rendition = repository.get_rendition(session, rendition_id, job_id, user.id)
    if rendition is None:
        raise NotFound("No such rendition.")
    repository.delete(session, rendition)
    return rendition.storage_key
