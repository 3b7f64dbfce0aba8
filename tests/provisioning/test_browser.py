"""Real browser: Debian's chromium, headless, driven by Playwright against the HTTPS server.

First-run setup with the printed token, login, a person with a card, enrolment from a photo in
../shared, a visitor code, the door redeeming it, and the resulting event on the events page.
A screenshot of every page is saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from gateway.application.live_frame import FaceBox, LiveFrame
from gateway.store.alerts_audit import raise_alert
from gateway.store.base import Method, Severity, Verdict
from gateway.store.events import record_access_event
from gateway.store.visitor_codes import redeem_visitor_code
from gateway.vision.factory import PipelineModels
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline
from provisioning.routes_dashboard import annotate
from provisioning.serve import RunningServer, start_server
from tests.conftest import REPO
from tests.provisioning.conftest import ADMIN, HarnessFactory, PageHarness

pytestmark = [pytest.mark.shared, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHOTO = "face_recognition_examples/images/obama/examples__obama-1080p.jpg"
CAMERA = "face_recognition_examples/images/biden/examples__biden.jpg"


@pytest.fixture
def served(
    make_harness: HarnessFactory,
    real_models: tuple[FacePipeline, PipelineModels],
    faces_dir: Path,
) -> Iterator[tuple[PageHarness, str]]:
    pipeline, models = real_models
    image = read_image(faces_dir / CAMERA)
    [face] = pipeline.detect(image)
    frame = LiveFrame(image, (FaceBox(face.box, "r102 visitor"),))
    page = make_harness(pipeline=pipeline, models=models, frame=frame, bind="127.0.0.1", port=8443)
    server: RunningServer = start_server(page.app, page.deps.settings, port=0)
    try:
        yield page, f"https://127.0.0.1:{server.port}"
    finally:
        server.stop()


def no_frame() -> LiveFrame:
    raise AssertionError("the harness has a camera frame")


def wait_loaded(page: Any, selector: str, timeout: float = 20.0) -> None:
    """Wait until an image has pixels (no string eval: the page's CSP forbids it)."""
    deadline = time.monotonic() + timeout
    while page.locator(selector).evaluate("img => img.naturalWidth") == 0:
        assert time.monotonic() < deadline, f"{selector} never loaded"
        time.sleep(0.1)


def test_staff_flow_in_a_real_browser(served: tuple[PageHarness, str], faces_dir: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: `make test` installs Debian's chromium")
    from playwright.sync_api import expect, sync_playwright

    harness, base = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        context = browser.new_context(
            ignore_https_errors=True, locale="en-US", viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(20_000)

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

        # first start: redirected to the setup page, which needs the printed token
        page.goto(base + "/")
        expect(page).to_have_url(re.compile(r"/setup$"))
        page.fill("input[name=token]", harness.setup_token())
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.fill("input[name=password_again]", ADMIN[1])
        shot("01-setup")
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/login"))

        # login: a wrong password first, then the right one
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", "Wrong-Password-1")
        page.click("button[type=submit]")
        expect(page.locator("#error-message")).to_contain_text("Wrong account name")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        shot("02-login")
        page.click("button[type=submit]")
        expect(page.locator("#door-state")).to_have_text("locked")
        wait_loaded(page, "#live")
        cookies = {c["name"]: c for c in context.cookies()}
        session_cookie = cookies["menwei_session"]
        assert session_cookie["httpOnly"] and session_cookie["secure"]
        assert session_cookie["sameSite"] == "Strict"

        # a person with a hostile-looking name and a card
        page.click("nav >> text=People")
        page.click("#new-person")
        page.fill("input[name=external_id]", "r101")
        page.fill("input[name=display_name]", "Barack <b>O</b>")
        page.fill("input[name=unit_number]", "1")
        page.fill("input[name=room_number]", "101")
        shot("04-person-new")
        page.click("#person-form button[type=submit]")
        expect(page.locator("#person-title")).to_contain_text("Barack <b>O</b>")
        page.fill("#card-form input[name=facility]", "12")
        page.fill("#card-form input[name=number]", "3456")
        page.click("#card-form button")
        expect(page.locator("#credential-summary")).to_contain_text("Cards: 1")

        # enrolment: consent, a real photo, per-photo feedback, then save
        page.check("#consent")
        page.set_input_files("#photos", str(faces_dir / PHOTO))
        page.click("#analyse")
        expect(page.locator("#photo-results")).to_contain_text("liveness")
        shot("05-enrol-review")
        page.click("#save-templates")
        expect(page.locator("#template-count")).to_have_text("1")
        shot("06-person")

        # a visitor code for the unit, shown once with a print view
        page.goto(base + "/codes")
        page.fill("#code-form input[name=unit_number]", "1")
        page.fill("#code-form input[name=room_number]", "101")
        page.click("#code-form button[type=submit]")
        code = page.locator("#issued-code").inner_text()
        assert re.fullmatch(r"\d{6}", code)
        qr_png = page.locator("#qr svg").screenshot()
        qr_image = cv2.imdecode(np.frombuffer(qr_png, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert cv2.QRCodeDetector().detectAndDecode(qr_image)[0] == code
        shot("07-code-issued")

        # the door redeems the code (as the access service does) and a tailgate alert is raised
        door_id = harness.app.state.context.door_id
        now = harness.clock()
        with harness.store.sessions.writing() as session:
            redemption = redeem_visitor_code(
                session, harness.store.codes, door_id=door_id, code=code, at=now
            )
            assert redemption.granted
            record_access_event(
                session,
                gateway_id="gw-1",
                door_id=door_id,
                method=Method.CODE,
                verdict=Verdict.GRANT,
                reason_code=redemption.reason,
                occurred_at=now,
            )
            raise_alert(
                session,
                kind="tailgate",
                severity=Severity.WARNING,
                occurred_at=now + timedelta(seconds=2),
                max_snapshot_bytes=300_000,
                door_id=door_id,
                snapshot_jpeg=annotate(harness.deps.frame_provider() or no_frame()),
            )
        page.goto(base + "/events")
        expect(page.locator("#events tbody tr").first).to_contain_text("code")
        expect(page.locator("#events")).to_contain_text("grant")
        shot("08-events")
        page.goto(base + "/codes")
        expect(page.locator("#codes")).to_contain_text("1 / 1")
        shot("09-codes")
        page.goto(base + "/")
        expect(page.locator("#alerts")).to_contain_text("tailgate")
        wait_loaded(page, "#alerts img.thumb")
        shot("03-dashboard")
        page.click("#alerts button")
        page.goto(base + "/alerts")
        expect(page.locator("#alerts")).to_contain_text("Acknowledged")
        shot("10-alerts")
        for name in ("people", "watchlist", "settings", "accounts", "account", "audit"):
            page.goto(f"{base}/{name}")
            shot(f"11-{name}")
        expect(page.locator("#audit")).to_contain_text("enrol_face")
        page.click("#lang")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        shot("12-audit-zh")
        page.goto(base + "/")
        expect(page.locator("h2").first).to_contain_text("门状态")
        shot("13-dashboard-zh")
        page.goto(base + "/people/1")
        expect(page.locator("#enrol-form")).to_contain_text("人脸识别告知书")
        shot("14-person-zh")
        context.close()
        browser.close()
