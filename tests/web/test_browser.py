"""End to end in headless Chromium: sign up, the four generators with live progress, the Library.

Runs once, on SQLite. Screenshots go to $IMAGE2AD_SCREENSHOTS when set (docs/screenshots for the
README), else to a temporary folder; every page is also checked for sideways scrolling on mobile.
"""

from __future__ import annotations

import re
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

from image2ad.auth import resets
from image2ad.catalog import GenerationType, availability
from image2ad.jobs import service as jobs_service
from image2ad.jobs.schemas import JobCreate
from image2ad.models import User
from image2ad.providers.emulator import EmulatorSettings
from tests.fixtures import factories
from tests.fixtures.browser import DESKTOP, KEEP_SHOTS, MOBILE
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp
from tests.web.session import PASSWORD, Browserish, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]

# What each generator test sets on its type's default model; the job must carry it.
SETTINGS: dict[str, dict[str, str | int | bool]] = {
    "text-to-image": {"aspect_ratio": "9:16"},
    "image-to-image": {"aspect_ratio": "4:5", "output_format": "jpeg"},
    "text-to-video": {"aspect_ratio": "9:16", "duration": 4, "sound": False},
    "image-to-video": {"duration": 4},
}
# Records what the progress widget shows, so the test can tell it moved without a reload.
WATCH_PROGRESS = """() => {
  window.sameDocument = true;
  const seen = window.seen = { stages: [], values: [] };
  const text = document.querySelector('#job-progress [data-stage-text]');
  const bar = document.querySelector('#job-progress [data-progress-bar]');
  new MutationObserver(() => {
    if (seen.stages.at(-1) !== text.textContent) seen.stages.push(text.textContent);
  }).observe(text, { childList: true, characterData: true, subtree: true });
  new MutationObserver(() => {
    if (seen.values.at(-1) !== bar.value) seen.values.push(bar.value);
  }).observe(bar, { attributes: true, attributeFilter: ['value'] });
}"""
IMAGE_LOADED = """(selector) => {
  const img = document.querySelector(selector);
  return Boolean(img && img.complete && img.naturalWidth > 0);
}"""


@pytest.fixture(scope="module")
def reference_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = Image.new("RGB", (640, 480), (250, 240, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((220, 90, 420, 420), fill=(35, 60, 140))
    draw.ellipse((270, 40, 370, 140), fill=(240, 170, 40))
    path = tmp_path_factory.mktemp("refs") / "product.png"
    image.save(path)
    return path


@pytest.fixture
def knobs(live_app: LiveApp) -> Iterator[EmulatorSettings]:
    """The emulator's timings for this test alone: whatever it sets is put back afterwards."""
    saved = live_app.emulator.knobs()
    try:
        yield live_app.emulator.settings
    finally:
        live_app.emulator.restore_knobs(saved)


@pytest.fixture
def watchable(live_app: LiveApp) -> Iterator[None]:
    """Emulated generations slow enough to watch them move; restored afterwards."""
    knobs = live_app.emulator.settings
    before = knobs.image_duration_s, knobs.video_duration_s
    knobs.image_duration_s, knobs.video_duration_s = 1.5, 2.5
    try:
        yield
    finally:
        knobs.image_duration_s, knobs.video_duration_s = before


def shoot(
    page: Page, shots: Path, name: str, focus: str | None = None, full_page: bool = False
) -> None:
    """Desktop and mobile screenshots of the page (at the top, or scrolled to `focus`, or all
    of it)."""
    for size in (DESKTOP, MOBILE):
        page.set_viewport_size(size)
        if focus:
            page.locator(focus).scroll_into_view_if_needed()
        else:
            page.evaluate("window.scrollTo(0, 0)")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {size['width']} px"
        kind = "desktop" if size is DESKTOP else "mobile"
        path = shots / f"{name}-{kind}.png"
        if full_page:
            # The sidebar is as tall as the window: make the window as tall as the page.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": size["width"], "height": height})
        page.screenshot(path=path)
        if KEEP_SHOTS:
            # A 256-colour palette keeps UI screenshots a third of the size, for the docs.
            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    page.set_viewport_size(DESKTOP)


def set_param(page: Page, name: str, value: str | int | bool) -> None:
    control = f'#model-params input[name="{name}"]'
    if isinstance(value, bool):
        page.set_checked(control, value)
    elif isinstance(value, int):
        page.fill(control, str(value))
    else:
        page.check(f'{control}[value="{value}"]')


def focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.className"))


def wait_task_id(live_app: LiveApp, user: factories.TestUser) -> str:
    deadline = time.monotonic() + 20
    with live_app.client(user) as api:
        while time.monotonic() < deadline:
            items = api.get("/api/v1/jobs").json()["items"]
            if items and items[0]["task_id"]:
                return str(items[0]["task_id"])
            time.sleep(0.05)
    raise AssertionError("the job never reached the provider")


def test_sign_up_log_out_and_log_in_with_the_keyboard(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    base = live_app.base_url
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{base}/signup")
    shoot(page, shots, "signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base}/generate/text-to-image")
    expect(page.locator("#credit-balance")).to_have_text("10")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/login")
    shoot(page, shots, "login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")

    page.goto(f"{base}/login")
    page.keyboard.press("Tab")
    assert focused(page) == "skip-link"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page) == "email"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/generate/text-to-image")


@pytest.mark.parametrize("type_name", list(SETTINGS))
def test_generate_watch_it_finish_and_manage_it_in_the_library(
    live_app: LiveApp,
    page: Page,
    shots: Path,
    reference_png: Path,
    watchable: None,
    type_name: str,
) -> None:
    base = live_app.base_url
    spec = live_app.app.state.runtime.catalog.get(type_name)
    user = live_app.user(credits=5)
    log_in(page, live_app, user)
    page.goto(f"{base}/generate/{type_name}")
    if spec.needs_image:
        page.set_input_files("#image-input", reference_png)
        expect(page.locator("#upload-status")).to_contain_text("640 \u00d7 480")
        assert page.evaluate(IMAGE_LOADED, "#image-preview")
    tag = uuid.uuid4().hex[:8]
    prompt = f"{spec.label} ad {tag}: cold brew can on ice, summer sale"
    page.get_by_label("Prompt").fill(prompt)
    expect(page.locator("#prompt-length")).to_have_text(str(len(prompt)))
    expect(page.locator('input[name="model"]:checked')).to_have_value(spec.id)
    for name, value in SETTINGS[type_name].items():
        set_param(page, name, value)
    expect(page.locator("#cost")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#cost-credits")).to_have_text("1 credit")
    shoot(page, shots, f"generate-{type_name}", full_page=True)

    page.evaluate(WATCH_PROGRESS)
    page.dblclick("#generate-button")
    expect(page.locator("#job-progress")).to_be_visible()
    if spec.result_type == "image":
        page.wait_for_function(IMAGE_LOADED, arg="#job-result img", timeout=30_000)
    else:
        page.wait_for_selector("#job-result video", timeout=30_000)
        page.evaluate(
            "() => { const v = document.querySelector('#job-result video');"
            " v.muted = true; return v.play(); }"
        )
        page.wait_for_function(
            "() => document.querySelector('#job-result video').currentTime > 0.3"
        )
    seen: dict[str, list[Any]] = page.evaluate("window.seen")
    assert page.evaluate("window.sameDocument") is True
    assert seen["stages"][-1] == "Done", seen
    assert len(set(seen["stages"][:-1])) >= 2, seen
    assert seen["values"] == sorted(seen["values"]) and seen["values"][-1] == 100, seen
    expect(page.locator("#credit-balance")).to_have_text("4")
    shoot(page, shots, f"generate-{type_name}-result", focus="#job-panel")
    with live_app.client(user) as api:
        jobs = api.get("/api/v1/jobs").json()["items"]
    assert len(jobs) == 1, "a double click made more than one job"
    assert jobs[0]["model"] == spec.id
    assert jobs[0]["params"] | SETTINGS[type_name] == jobs[0]["params"]
    original = jobs[0]["id"]

    page.goto(f"{base}/library")
    page.get_by_label("Search prompts").fill(f"ad {tag}")
    cards = page.locator(".job-card")
    expect(cards).to_have_count(1)
    page.locator(f"#job-{original}").get_by_role("button", name="Make another").click()
    expect(cards).to_have_count(2)
    fresh = cards.first.get_attribute("data-job-id")
    assert fresh and fresh != original
    expect(cards.first).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(page.locator("#credit-balance")).to_have_text("3")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#job-{original}").get_by_role("button", name="Delete").click()
    expect(cards).to_have_count(1)
    page.reload()
    expect(cards).to_have_count(1)
    assert cards.first.get_attribute("data-job-id") == fresh
    with live_app.client(user) as api:
        assert api.get(f"/api/v1/jobs/{original}").status_code == 404

    cards.first.get_by_role("link", name="Open job").click()
    page.wait_for_url(f"{base}/jobs/{fresh}")
    expect(page.locator(".prompt-text")).to_have_text(prompt)
    if spec.needs_image:
        assert page.evaluate(IMAGE_LOADED, ".source-thumb")
    if spec.result_type == "image":
        assert page.evaluate(IMAGE_LOADED, "#job-result img")
    else:
        expect(page.locator("#job-result video")).to_have_count(1)
    assert_ledger_invariants(live_app.db, user.id)


def test_pick_a_model_set_its_parameters_and_pay_the_quoted_price(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    user = live_app.user(credits=5)
    log_in(page, live_app, user)
    cost = page.locator("#cost-credits")
    expect(cost).to_have_text("1 credit")
    page.check('input[name="aspect_ratio"][value="9:16"]')
    expect(page.locator('#model-params input[name="resolution"]')).to_have_count(0)

    page.get_by_role("radio", name="Nano Banana 2", exact=True).check()
    expect(page.locator('#model-params input[name="resolution"]')).to_have_count(3)
    expect(page.locator('input[name="aspect_ratio"][value="9:16"]')).to_be_checked()
    expect(page.locator('input[name="aspect_ratio"][value="1:4"]')).to_have_count(1)
    expect(page.locator("#prompt-max")).to_have_text("20,000")
    expect(cost).to_have_text("2 credits")
    with page.expect_response("**/api/v1/quotes") as quoted:
        page.check('input[name="resolution"][value="4K"]')
    assert quoted.value.json()["credits"] == 5
    expect(cost).to_have_text("5 credits")
    expect(page.locator("#credits-after")).to_have_text("0")
    expect(page.locator("#cost-short")).to_be_hidden()

    page.get_by_role("radio", name="Nano Banana Pro", exact=True).check()
    expect(cost).to_have_text("6 credits")
    expect(page.locator("#cost-short")).to_be_visible()
    expect(page.get_by_role("button", name="Generate")).to_be_disabled()
    page.get_by_role("radio", name="Nano Banana 2", exact=True).check()
    expect(page.locator('input[name="resolution"][value="4K"]')).to_be_checked()
    expect(cost).to_have_text("5 credits")
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()

    page.get_by_label("Prompt").fill("Sneaker drop poster, neon city at night, 30% off")
    shoot(page, shots, "generate-models", full_page=True)
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(IMAGE_LOADED, arg="#job-result img", timeout=30_000)
    expect(page.locator("#credit-balance")).to_have_text("0")
    with live_app.client(user) as api:
        (job,) = api.get("/api/v1/jobs").json()["items"]
    assert job["model"] == "nano-banana-2" and job["credits_charged"] == 5
    assert job["params"]["resolution"] == "4K" and job["params"]["aspect_ratio"] == "9:16"
    page.locator("#job-result").get_by_role("link", name="Details").click()
    page.wait_for_url(f"{live_app.base_url}/jobs/{job['id']}")
    expect(page.locator("#job-model")).to_contain_text("Nano Banana 2")
    expect(page.locator(".recipe")).to_contain_text("Resolution")
    assert_ledger_invariants(live_app.db, user.id)


def test_a_model_kie_paused_is_greyed_and_skipped_by_the_keyboard(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    rt = live_app.app.state.runtime
    veo = rt.catalog.find("text-to-video", "veo3")
    assert veo is not None
    with live_app.db.session() as session:
        availability.mark_unavailable(session, veo, "paused", "paused", timedelta(hours=1))
    try:
        log_in(page, live_app, live_app.user())
        page.goto(f"{live_app.base_url}/generate/text-to-video")
        veo_radio = page.get_by_role("radio", name="Veo 3.1", exact=True)
        expect(veo_radio).to_be_disabled()
        expect(page.locator(".model-option.unavailable")).to_contain_text("paused at Kie")
        page.get_by_role("radio", name="Kling 3.0", exact=True).focus()
        page.keyboard.press("ArrowDown")
        seedance = page.get_by_role("radio", name="Seedance 2 Mini", exact=True)
        expect(seedance).to_be_checked()
        expect(seedance).to_be_focused()
        expect(page.locator('#model-params input[name="generate_audio"]')).to_be_checked()
        expect(page.locator('#model-params input[name="mode"]')).to_have_count(0)
        expect(page.locator("#cost-credits")).to_have_text("1 credit")
        shoot(page, shots, "generate-model-unavailable")
    finally:
        with live_app.db.session() as session:
            availability.mark_available(session, veo.provider_model)


def test_generator_form_errors_are_inline_and_charge_nothing(
    live_app: LiveApp, page: Page, tmp_path: Path
) -> None:
    user = live_app.user(credits=1)
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/generate/image-to-image")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#prompt-error")).to_have_text("Write a prompt first.")
    expect(page.locator("#upload-error")).to_have_text("Add a reference image first.")
    expect(page.get_by_label("Prompt")).to_be_focused()
    page.get_by_label("Prompt").fill("x" * 5001)
    expect(page.locator("#prompt-count")).to_have_class(re.compile("over"))
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#prompt-error")).to_contain_text("the limit is 5000")
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all")
    page.set_input_files("#image-input", fake)
    expect(page.locator("#upload-error")).to_have_text("Upload a JPEG, PNG or WebP image.")
    assert page.locator("#image-preview").is_hidden()
    expect(page.locator("#credit-balance")).to_have_text("1")
    with live_app.client(user) as api:
        assert api.get("/api/v1/jobs").json()["items"] == []


def test_a_failed_generation_says_why_and_returns_the_credit(
    live_app: LiveApp,
    page: Page,
    shots: Path,
    knobs: EmulatorSettings,
) -> None:
    user = live_app.user(credits=2)
    knobs.image_duration_s = 30
    log_in(page, live_app, user)
    page.get_by_label("Prompt").fill("Neon sneaker drop, midnight launch")
    page.get_by_role("button", name="Generate").click()
    task_id = wait_task_id(live_app, user)
    expect(page.locator("#job-progress [data-stage-text]")).to_have_text("Waiting for the model")
    expect(page.locator("#credit-balance")).to_have_text("1")
    shoot(page, shots, "generate-progress", focus="#job-panel")
    live_app.emulator.force_fail(task_id, "400", "Prompt violates the content policy")
    alert = page.locator("#job-result [role=alert]")
    # Plain words and what to do first; the model's own text behind Details.
    expect(alert).to_contain_text("The model turned this request down.")
    expect(alert.locator(".refund")).to_have_text("Your 1 credit was returned.")
    expect(alert.get_by_text("Prompt violates the content policy")).to_be_hidden()
    alert.get_by_text("Details").click()
    expect(alert.get_by_text("Prompt violates the content policy")).to_be_visible()
    expect(page.locator("#credit-balance")).to_have_text("2")
    shoot(page, shots, "generate-failed", focus="#job-panel")
    knobs.image_duration_s = 0.5
    alert.get_by_role("button", name="Try again").click()
    page.wait_for_function(IMAGE_LOADED, arg="#job-result img", timeout=30_000)
    expect(page.locator("#credit-balance")).to_have_text("1")
    with live_app.client(user) as api:
        statuses = [job["status"] for job in api.get("/api/v1/jobs").json()["items"]]
    assert statuses == ["completed", "failed"]
    assert_ledger_invariants(live_app.db, user.id)


def test_cancel_from_the_generator_the_library_and_the_job_page(
    live_app: LiveApp,
    page: Page,
    shots: Path,
    knobs: EmulatorSettings,
) -> None:
    user = live_app.user(credits=3)
    knobs.image_duration_s = 60
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    log_in(page, live_app, user)
    page.get_by_label("Prompt").fill("Linen shirt flat lay, summer sale")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#job-panel")).to_be_focused()
    wait_task_id(live_app, user)
    expect(page.locator("#credit-balance")).to_have_text("2")
    shoot(page, shots, "generate-running", focus="#job-panel")
    page.once("dialog", accept)
    page.locator("#job-panel").get_by_role("button", name="Cancel").click()
    alert = page.locator("#job-result [role=alert]")
    expect(alert).to_contain_text("This job was canceled.")
    # One line about the credit, not two.
    expect(alert).to_have_text(re.compile(r"^(?!.*returned.*returned).*$", re.S))
    expect(alert.locator(".refund")).to_have_text("Your 1 credit was returned.")
    expect(page.locator("#credit-balance")).to_have_text("3")
    assert dialogs == ["Cancel this job? Your 1 credit will come back."]

    with live_app.client(user) as api:
        queued = [
            api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": f"Hat {n}"}).json()[
                "id"
            ]
            for n in range(2)
        ]
    page.goto(f"{live_app.base_url}/library")
    card = page.locator(f"#job-{queued[0]}")
    # Changing one's mind keeps the job. Each dialog is answered by its own handler, and the
    # test waits for it: a handler left waiting would also take the next one, and a dialog
    # answered only after click() returns can hold click() itself (the page's script is
    # paused while the dialog is open).
    expect(card).to_have_attribute("data-status", re.compile("pending|processing"))
    with page.expect_event("dialog", timeout=30_000):
        page.once("dialog", lambda dialog: dialog.dismiss())
        card.get_by_role("button", name="Cancel").click()
    expect(card.get_by_role("button", name="Cancel")).to_be_enabled()
    expect(card).to_have_attribute("data-status", re.compile("pending|processing"))
    with page.expect_event("dialog", timeout=30_000):
        page.once("dialog", lambda dialog: dialog.accept())
        card.get_by_role("button", name="Cancel").click()
    card = page.locator(f"#job-{queued[0]}")
    expect(card).to_have_attribute("data-status", "canceled")
    expect(card.get_by_role("button", name="Retry")).to_be_visible()

    page.goto(f"{live_app.base_url}/jobs/{queued[1]}")
    page.once("dialog", accept)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-status")).to_have_text("Canceled")
    expect(page.locator("#job-result .refund")).to_have_text("Your 1 credit was returned.")
    shoot(page, shots, "job-canceled")
    expect(page.locator("#credit-balance")).to_have_text("3")
    with live_app.client(user) as api:
        statuses = {job["status"] for job in api.get("/api/v1/jobs").json()["items"]}
    assert statuses == {"canceled"}
    assert_ledger_invariants(live_app.db, user.id)


def test_out_of_credits_says_so_links_to_more_and_disables_what_would_spend(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    settings = live_app.app.state.runtime.settings
    user = live_app.user(credits=1)
    with live_app.client(user) as api:
        done = live_app.wait_job(
            api,
            api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Mug"}).json()["id"],
        )
    assert done["status"] == "completed"
    settings.credits_url = "https://billing.example.com/top-up"
    try:
        log_in(page, live_app, user)
        expect(page.locator("#credit-balance")).to_have_text("0")
        short = page.locator("#cost-short")
        expect(short).to_be_visible()
        expect(short).to_contain_text("you have 0, 1 more needed")
        expect(page.locator("#cost-after")).to_be_hidden()
        expect(short.get_by_role("link", name="Get credits")).to_have_attribute(
            "href", "https://billing.example.com/top-up"
        )
        expect(page.get_by_role("button", name="Generate")).to_be_disabled()
        shoot(page, shots, "generate-no-credits", focus="#generate-button")
        page.goto(f"{live_app.base_url}/library")
        again = page.locator(f"#job-{done['id']}").get_by_role("button", name="Make another")
        expect(again).to_be_disabled()
        expect(again).to_have_attribute("title", "Needs 1 credit; you have 0.")
        page.goto(f"{live_app.base_url}/jobs/{done['id']}")
        expect(page.get_by_role("button", name="Make another")).to_be_disabled()
    finally:
        settings.credits_url = None


def test_library_job_and_api_key_pages(
    live_app: LiveApp, page: Page, shots: Path, reference_png: Path
) -> None:
    user = live_app.user(credits=10)
    with live_app.client(user) as api:
        upload = api.post(
            "/api/v1/uploads", files={"file": ("product.png", reference_png.read_bytes())}
        ).json()
        requests = [
            {
                "type": "text-to-image",
                "prompt": "Cold brew can on ice, 20% off",
                "aspect_ratio": "1:1",
            },
            {
                "type": "image-to-image",
                "prompt": "Same bottle on a beach towel",
                "aspect_ratio": "4:5",
                "source_upload_id": upload["id"],
            },
            {"type": "text-to-video", "prompt": "Slow push-in on a steaming latte"},
            {
                "type": "image-to-video",
                "prompt": "The bottle spins as waves roll in",
                "aspect_ratio": "portrait",
                "source_upload_id": upload["id"],
            },
            {
                "type": "text-to-image",
                "prompt": "Sneaker launch poster, neon",
                "aspect_ratio": "9:16",
            },
        ]
        ids = [api.post("/api/v1/jobs", json=body).json()["id"] for body in requests]
        for job_id in ids:
            assert live_app.wait_job(api, job_id)["status"] == "completed"
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/library")
    expect(page.locator(".job-card")).to_have_count(len(ids))
    page.wait_for_function(
        "() => [...document.querySelectorAll('.thumb img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    shoot(page, shots, "library")
    page.goto(f"{live_app.base_url}/jobs/{ids[1]}")
    assert page.evaluate(IMAGE_LOADED, ".source-thumb")
    shoot(page, shots, "job")
    # A 9:16 result leaves the page's actions in view, at both sizes.
    page.goto(f"{live_app.base_url}/jobs/{ids[4]}")
    page.wait_for_function(IMAGE_LOADED, arg="#job-result img")
    for size in (DESKTOP, MOBILE):
        page.set_viewport_size(size)
        box = page.get_by_role("button", name="Make another").bounding_box()
        assert box is not None and box["y"] + box["height"] <= size["height"], (size, box)
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_app.base_url}/jobs/not-a-job")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    shoot(page, shots, "not-found")

    page.goto(f"{live_app.base_url}/settings/api-keys")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_have_value(re.compile(r"^i2a_\S{40,}$"))
    shoot(page, shots, "api-keys")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke laptop").click()
    expect(page.locator("tr", has_text="laptop")).not_to_contain_text("Revoked")
    messages: list[str] = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Revoke laptop").click()
    expect(page.locator("tr", has_text="laptop")).to_contain_text("Revoked")
    assert messages and messages[0].startswith("Revoke laptop?")


def test_signed_in_browsers_and_log_out_everywhere(
    page: Page, live_app: LiveApp, shots: Path
) -> None:
    user = live_app.user()
    with Browserish(live_app) as phone:
        phone.http.headers["User-Agent"] = (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Version/18.0 Safari/605.1.15"
        )
        assert phone.login(user.email).status_code == 303
        log_in(page, live_app, user)
        page.goto(f"{live_app.base_url}/settings/api-keys")
        sessions = page.locator("table.sessions tbody tr")
        expect(sessions).to_have_count(2)
        expect(page.locator("table.sessions")).to_contain_text("Safari on iOS")
        expect(page.locator("table.sessions")).to_contain_text("This browser")
        shoot(page, shots, "api-keys-sessions", focus=".log-out-all")
        page.get_by_role("button", name="Log out everywhere").click()
        page.wait_for_url(f"{live_app.base_url}/login")
        assert phone.api("GET", "/api/v1/me").status_code == 401


def test_generate_is_in_reach_and_times_read_in_the_local_zone(
    live_app: LiveApp, browser: Browser
) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as api:
        made = api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Tote bag"})
        live_app.wait_job(api, made.json()["id"])
    context = browser.new_context(viewport=DESKTOP, timezone_id="Asia/Tokyo", locale="en-GB")
    try:
        page = context.new_page()
        log_in(page, live_app, user)
        for size in (DESKTOP, MOBILE):
            page.set_viewport_size(size)
            page.goto(f"{live_app.base_url}/generate/text-to-video")
            box = page.get_by_role("button", name="Generate").bounding_box()
            assert box is not None
            assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (size, box)
        page.goto(f"{live_app.base_url}/library")
        stamp = page.locator(".job-card time").first
        utc = stamp.get_attribute("title")
        assert utc is not None and utc.endswith(" UTC")
        created = datetime.fromisoformat(str(stamp.get_attribute("datetime")))
        tokyo = created.astimezone(ZoneInfo("Asia/Tokyo"))
        expect(stamp).to_contain_text(f"{tokyo:%H:%M}")
    finally:
        context.close()


def test_drafts_uploads_and_the_running_job_survive_leaving_the_page(
    live_app: LiveApp, page: Page, reference_png: Path, watchable: None
) -> None:
    base = live_app.base_url
    user = live_app.user(credits=3)
    log_in(page, live_app, user)
    page.get_by_label("Prompt").fill("Draft: espresso tonic, summer terrace")
    page.get_by_role("radio", name="Nano Banana 2", exact=True).check()
    page.check('input[name="aspect_ratio"][value="9:16"]')
    page.goto(f"{base}/library")
    page.goto(f"{base}/generate/text-to-image")
    expect(page.get_by_label("Prompt")).to_have_value("Draft: espresso tonic, summer terrace")
    expect(page.get_by_role("radio", name="Nano Banana 2", exact=True)).to_be_checked()
    expect(page.locator('input[name="aspect_ratio"][value="9:16"]')).to_be_checked()
    expect(page.locator("#cost-credits")).to_have_text("2 credits")

    # The photo uploaded for image → image is there for image → video, with no re-upload.
    page.goto(f"{base}/generate/image-to-image")
    page.set_input_files("#image-input", reference_png)
    expect(page.locator("#upload-status")).to_contain_text("640 \u00d7 480")
    page.goto(f"{base}/generate/image-to-video")
    expect(page.locator("#upload-status")).to_contain_text("640 \u00d7 480")
    page.wait_for_function(IMAGE_LOADED, arg="#image-preview")
    page.get_by_label("Prompt").fill("The glass fizzes as the camera pushes in")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#job-progress")).to_be_visible()
    # Away while it runs, then back: the same job, still followed to its end.
    page.goto(f"{base}/generate/text-to-image")
    page.goto(f"{base}/generate/image-to-video")
    page.wait_for_selector("#job-result video", timeout=30_000)
    with live_app.client(user) as api:
        (job,) = api.get("/api/v1/jobs").json()["items"]
    assert job["type"] == "image-to-video" and job["status"] == "completed"
    assert job["source_upload_id"] is not None

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/login")
    log_in(page, live_app, user)
    expect(page.get_by_label("Prompt")).to_have_value("")


def accepted_but_not_sent(live_app: LiveApp, user: factories.TestUser, prompt: str) -> str:
    """A paid job whose submission has not started: what a long queue leaves waiting."""
    rt = live_app.app.state.runtime
    with live_app.db.session() as session:
        owner = session.get(User, user.id)
        assert owner is not None
        accepted = jobs_service.create_job(
            session,
            owner,
            JobCreate(type=GenerationType.TEXT_TO_IMAGE, prompt=prompt),
            catalog=rt.catalog,
            deadline=timedelta(minutes=15),
        )
        return accepted.job.id


def test_the_queue_drawer_follows_every_job_and_cancels_with_refunds(
    live_app: LiveApp,
    page: Page,
    shots: Path,
    knobs: EmulatorSettings,
) -> None:
    user = live_app.user(credits=5)
    knobs.image_duration_s = 60
    log_in(page, live_app, user)
    toggle = page.locator("#queue-toggle")
    expect(page.locator("#queue-count")).to_be_hidden()
    # Two jobs at once from one page: neither hides the other in the queue.
    page.get_by_label("Prompt").fill("First: linen shirt flat lay")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#queue-count-n")).to_have_text("1")
    page.get_by_label("Prompt").fill("Second: straw hat on sand")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#queue-count-n")).to_have_text("2")
    # Both stay in sight under the result; the first comes back into the panel in one click.
    recent = page.locator("#recent-list .recent-item")
    expect(recent).to_have_count(2)
    expect(recent.first).to_have_attribute("aria-current", "true")
    recent.filter(has_text="First: linen shirt").click()
    expect(recent.filter(has_text="First: linen shirt")).to_have_attribute("aria-current", "true")
    expect(page.locator("#job-progress")).to_be_visible()
    shoot(page, shots, "generate-recent", focus="#recent")
    waiting = [accepted_but_not_sent(live_app, user, f"Queued {n}") for n in range(2)]
    toggle.click()
    drawer = page.locator("#queue-drawer")
    expect(page.locator("#queue-title")).to_be_focused()
    items = drawer.locator(".queue-item")
    expect(items).to_have_count(4)
    expect(items.first).to_contain_text("First: linen shirt flat lay")
    expect(page.locator("#credit-balance")).to_have_text("1")
    shoot(page, shots, "queue")

    page.once("dialog", lambda dialog: dialog.accept())
    items.filter(has_text="Second: straw hat").get_by_role("button", name="Cancel").click()
    expect(items).to_have_count(3)
    expect(page.locator("#credit-balance")).to_have_text("2")

    messages: list[str] = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    drawer.get_by_role("button", name="Cancel all queued").click()
    expect(items).to_have_count(1)
    assert messages == ["Cancel 2 queued jobs? 2 credits come back."]
    expect(page.locator("#credit-balance")).to_have_text("4")
    expect(drawer.get_by_role("button", name="Cancel all queued")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(toggle).to_be_focused()
    with live_app.client(user) as api:
        by_prompt = {j["prompt"]: j["status"] for j in api.get("/api/v1/jobs").json()["items"]}
    assert by_prompt["Second: straw hat on sand"] == "canceled"
    assert [by_prompt[f"Queued {n}"] for n in range(2)] == ["canceled", "canceled"]
    assert by_prompt["First: linen shirt flat lay"] in ("pending", "processing", "canceled")
    assert waiting
    assert_ledger_invariants(live_app.db, user.id)


def test_the_library_is_a_gallery_to_browse_compare_and_clear(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    user = live_app.user(credits=6)
    prompts = [f"Gallery {n}: sunglasses on a pier" for n in range(4)]
    with live_app.client(user) as api:
        ids = [
            api.post(
                "/api/v1/jobs",
                json={"type": "text-to-image", "prompt": prompt, "aspect_ratio": ratio},
            ).json()["id"]
            for prompt, ratio in zip(prompts, ["9:16", "1:1", "16:9", "4:5"], strict=True)
        ]
        for job_id in ids:
            assert live_app.wait_job(api, job_id)["status"] == "completed"
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/library")
    cards = page.locator(".job-card")
    expect(cards).to_have_count(4)
    expect(page.locator("#result-count")).to_have_text("4 results")
    # A 9:16 story is shown whole, not cropped into a landscape tile.
    story = page.locator(f"#job-{ids[0]} .thumb img")
    assert story.evaluate("img => getComputedStyle(img).objectFit") == "contain"
    page.wait_for_function(
        "() => [...document.querySelectorAll('.thumb img')].every(i => i.complete)"
    )
    shoot(page, shots, "library-gallery")

    columns = "() => getComputedStyle(document.getElementById('job-grid'))"
    columns += ".gridTemplateColumns.split(' ').length"
    wide = page.evaluate(columns)
    page.locator("#thumb-size").fill("360")
    assert page.evaluate(columns) < wide

    # The viewer: newest first, arrows go round, Escape closes.
    page.locator(f"#job-{ids[3]} .thumb").click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-position")).to_have_text("1 of 4")
    expect(page.locator("#viewer-title")).to_have_text(prompts[3])
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_have_text(prompts[2])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-position")).to_have_text("4 of 4")
    shoot(page, shots, "library-viewer")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # Filters apply as you type: no Search click, and the address follows.
    expect(page.get_by_role("button", name="Search")).to_be_hidden()
    page.get_by_label("Search prompts").fill("Gallery 2")
    expect(cards).to_have_count(1)
    expect(page.locator("#result-count")).to_have_text("1 result")
    assert "q=Gallery+2" in page.url
    page.get_by_label("Search prompts").fill("")
    expect(cards).to_have_count(4)

    # Select two to compare, then delete them together.
    page.get_by_role("button", name="Select").click()
    page.locator(f"#job-{ids[0]} .thumb").click()
    page.get_by_label(f"Select {prompts[1]}").check()
    expect(page.locator("#picked-count")).to_have_text("2 selected")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#viewer-stage figure")).to_have_count(2)
    shoot(page, shots, "library-compare")
    page.get_by_role("button", name="Close").click()
    with page.expect_download() as download:
        page.locator("#bulk-bar").get_by_role("button", name="Download ZIP").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        names = archive.namelist()
    assert len(names) == 2 and all(name.startswith("text-to-image-gallery-") for name in names)
    page.locator("#bulk-bar").get_by_role("button", name="Star").click()
    for job_id in ids[:2]:
        star = page.locator(f"#job-{job_id}").get_by_role("button", name="Star")
        expect(star).to_have_attribute("aria-pressed", "true")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#bulk-bar").get_by_role("button", name="Delete").click()
    expect(cards).to_have_count(2)
    with live_app.client(user) as api:
        left = {job["id"] for job in api.get("/api/v1/jobs").json()["items"]}
    assert left == {ids[2], ids[3]}


def test_star_use_as_reference_and_animate_carry_a_result_forward(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    user = live_app.user(credits=4)
    with live_app.client(user) as api:
        made = api.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Carry: ceramic mug"}
        ).json()
        other = api.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Carry: other mug"}
        ).json()
        for job in (made, other):
            assert live_app.wait_job(api, job["id"])["status"] == "completed"
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/library")
    card = page.locator(f"#job-{made['id']}")
    card.get_by_role("button", name="Star").click()
    expect(card.get_by_role("button", name="Star")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Starred only").check()
    expect(page.locator(".job-card")).to_have_count(1)
    expect(page.locator("#result-count")).to_have_text("1 result")

    page.goto(f"{live_app.base_url}/jobs/{made['id']}")
    expect(page.get_by_role("button", name="Star")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("link", name="Animate").click()
    page.wait_for_url(f"{live_app.base_url}/generate/image-to-video?source_job={made['id']}")
    expect(page.locator("#upload-status")).to_contain_text("From your result")
    page.wait_for_function(IMAGE_LOADED, arg="#image-preview")
    shoot(page, shots, "generate-animate")
    page.get_by_label("Prompt").fill("The mug steams as the camera circles it")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_selector("#job-result video", timeout=30_000)
    with live_app.client(user) as api:
        child = api.get("/api/v1/jobs").json()["items"][0]
        parent_bytes = api.get(f"/api/v1/jobs/{made['id']}/result").content
        source_bytes = api.get(f"/api/v1/uploads/{child['source_upload_id']}/file").content
    assert child["type"] == "image-to-video" and child["parent_job_id"] == made["id"]
    assert source_bytes == parent_bytes

    page.goto(f"{live_app.base_url}/jobs/{child['id']}")
    page.get_by_role("link", name="an earlier result").click()
    page.wait_for_url(f"{live_app.base_url}/jobs/{made['id']}")
    page.get_by_role("link", name="Use as reference").click()
    page.wait_for_url(f"{live_app.base_url}/generate/image-to-image?source_job={made['id']}")
    expect(page.locator("#upload-status")).to_contain_text("From your result")


def test_forgot_password_then_a_reset_link_in_the_browser(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    user = live_app.user()
    base = live_app.base_url
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(f"{base}/forgot-password")
    # No mail server here: the page says who can reset it and how.
    expect(page.locator("main")).to_contain_text("image2ad users reset-password")
    shoot(page, shots, "forgot-password")
    with live_app.db.session() as session:
        owner = session.get(User, user.id)
        assert owner is not None
        token = resets.issue(session, owner)
    page.goto(f"{base}/reset-password?token={token}")
    shoot(page, shots, "reset-password")
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name=re.compile("password", re.I)).click()
    page.wait_for_url(f"{base}/login?reset=1")
    expect(page.locator("main")).to_contain_text("Your password was changed.")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("a brand new passphrase")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/generate/text-to-image")


def test_phone_cards_keep_their_actions_in_a_more_menu(live_app: LiveApp, page: Page) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as api:
        made = api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Menu: tote"})
        assert live_app.wait_job(api, made.json()["id"])["status"] == "completed"
    log_in(page, live_app, user)
    page.set_viewport_size(MOBILE)
    page.goto(f"{live_app.base_url}/library")
    card = page.locator(".job-card").first
    expect(card.get_by_role("button", name="Delete")).to_be_hidden()
    more = card.get_by_role("button", name="More")
    box = more.bounding_box()
    assert box is not None and box["height"] >= 44
    more.click()
    menu = card.locator("[popover]")
    expect(menu.get_by_role("link", name="Download")).to_be_visible()
    menu.get_by_role("button", name="Star").click()
    expect(menu.get_by_role("button", name="Star")).to_have_attribute("aria-pressed", "true")
    page.once("dialog", lambda dialog: dialog.accept())
    menu.get_by_role("button", name="Delete").click()
    expect(page.locator(".job-card")).to_have_count(0)
