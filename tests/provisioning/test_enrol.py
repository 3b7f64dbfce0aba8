"""Face enrolment with the real models and real photos from ../shared: consent first, per-photo
feedback, one face only, duplicate warning, several templates, photos discarded by default."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.application.live_frame import FaceBox, LiveFrame
from gateway.store.schema_credentials import Card, FaceTemplate, Pin
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Consent, Person
from gateway.vision.factory import PipelineModels
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline
from tests.provisioning.conftest import ADMIN, HarnessFactory, PageHarness, csrf
from tests.provisioning.test_people import create

pytestmark = pytest.mark.shared
HTML = {"accept": "text/html"}
OBAMA = "face_recognition_examples/images/obama/examples__obama-1080p.jpg"
OBAMA_720 = "face_recognition_examples/images/obama/examples__obama-720p.jpg"
BIDEN = "face_recognition_examples/images/biden/examples__biden.jpg"
COUPLE = "deepface_unit/images/couple.jpg"
KEY_RE = re.compile(r'name="key" value="([^"]+)"')
LIVE_VIDEO = "antispoof/frames_from_videos/live"


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data.tobytes())


@pytest.fixture
def enrol_page(
    make_harness: HarnessFactory,
    real_models: tuple[FacePipeline, PipelineModels],
    faces_dir: Path,
) -> PageHarness:
    pipeline, models = real_models
    frame = LiveFrame(read_image(faces_dir / BIDEN), (FaceBox((10, 10, 80, 80), "r9 Biden"),))
    page = make_harness(pipeline=pipeline, models=models, frame=frame)
    page.create_admin()
    return page


@pytest.fixture
def client(enrol_page: PageHarness) -> TestClient:
    return enrol_page.login(*ADMIN)


def person_with_card(client: TestClient, external_id: str, room: str, card: int) -> int:
    person_id = create(client, external_id=external_id, room_number=room)
    token = csrf(client, "/")
    client.post(
        f"/people/{person_id}/cards",
        data={"csrf_token": token, "facility": "1", "number": str(card)},
    )
    return person_id


def analyse(
    client: TestClient,
    person_id: int,
    files: list[tuple[str, bytes]],
    consent: bool = True,
    source: str = "upload",
) -> tuple[int, str]:
    data = {"csrf_token": csrf(client, "/"), "source": source}
    if consent:
        data["consent"] = "on"
    response = client.post(
        f"/people/{person_id}/enrol",
        data=data,
        files=[("photos", (name, body, "image/jpeg")) for name, body in files] or None,
        headers=HTML,
    )
    return response.status_code, response.text


def save(client: TestClient, person_id: int, page: str, confirm: bool = False) -> int:
    key = KEY_RE.search(page)
    assert key, page[:500]
    data = {"csrf_token": csrf(client, "/"), "key": key.group(1)}
    if confirm:
        data["confirm_duplicate"] = "true"
    response = client.post(
        f"/people/{person_id}/enrol/save", data=data, headers=HTML, follow_redirects=False
    )
    return response.status_code


def review_key(page: str) -> str:
    key = KEY_RE.search(page)
    assert key, page[:500]
    return key.group(1)


def two_factor_of(page: PageHarness, person_id: int) -> tuple[bool, str | None]:
    with page.store.sessions.reading() as session:
        person = session.get(Person, person_id)
        assert person is not None
        return person.two_factor, person.two_factor_source


def templates_of(page: PageHarness, person_id: int) -> int:
    with page.store.sessions.reading() as session:
        return int(
            session.scalar(select(func.count()).where(FaceTemplate.person_id == person_id)) or 0
        )


def test_enrol_from_photos_records_consent_first_and_stores_templates(
    enrol_page: PageHarness, client: TestClient, faces_dir: Path
) -> None:
    person_id = person_with_card(client, "obama", "101", 1001)
    photos = [
        ("a.jpg", (faces_dir / OBAMA).read_bytes()),
        ("b.jpg", (faces_dir / OBAMA_720).read_bytes()),
    ]
    status, page = analyse(client, person_id, photos)
    assert status == 200 and page.count("✓") == 2
    assert "liveness" in page and "sharpness" in page and "px" in page
    assert templates_of(enrol_page, person_id) == 0  # nothing stored before "save"
    assert save(client, person_id, page) == 303
    assert templates_of(enrol_page, person_id) == 2
    assert save(client, person_id, page) == 400  # the same check cannot be saved twice
    assert templates_of(enrol_page, person_id) == 2
    with enrol_page.store.sessions.reading() as session:
        [consent] = session.scalars(select(Consent).where(Consent.person_id == person_id))
        assert consent.taken_by == ADMIN[0]
        assert consent.text_version == enrol_page.deps.settings.consent_text_version
        [template_consent] = set(
            session.scalars(
                select(FaceTemplate.consent_id).where(FaceTemplate.person_id == person_id)
            )
        )
    assert template_consent == consent.id
    assert not (enrol_page.deps.settings.photo_dir / str(person_id)).exists()
    # a second enrolment adds templates (several per person)
    status, page = analyse(client, person_id, [("c.jpg", (faces_dir / OBAMA).read_bytes())])
    assert save(client, person_id, page) == 303
    assert templates_of(enrol_page, person_id) == 3
    # the resident withdraws consent: every template goes, the consent is dated
    assert 'id="withdraw-form"' in client.get(f"/people/{person_id}", headers=HTML).text
    client.post(f"/people/{person_id}/consent/withdraw", data={"csrf_token": csrf(client, "/")})
    assert templates_of(enrol_page, person_id) == 0
    with enrol_page.store.sessions.reading() as session:
        consents = session.scalars(select(Consent).where(Consent.person_id == person_id)).all()
    assert consents and all(c.withdrawn_at is not None for c in consents)


def test_without_consent_or_without_a_card_nothing_is_processed(
    enrol_page: PageHarness, client: TestClient, faces_dir: Path
) -> None:
    photo = [("a.jpg", (faces_dir / OBAMA).read_bytes())]
    person_id = person_with_card(client, "obama", "101", 1001)
    status, page = analyse(client, person_id, photo, consent=False)
    assert status == 400 and ("consent" in page.lower() or "授权" in page)
    no_card = create(client, external_id="nocard", room_number="102")
    status, page = analyse(client, no_card, photo)
    assert status == 400 and ("card or PIN" in page or "门卡或密码" in page)
    assert templates_of(enrol_page, person_id) == 0 and templates_of(enrol_page, no_card) == 0


def test_bad_photos_get_a_clear_reason_and_cannot_be_saved(
    enrol_page: PageHarness, client: TestClient, faces_dir: Path
) -> None:
    person_id = person_with_card(client, "obama", "101", 1001)
    blank = jpeg(np.full((480, 640, 3), 128, np.uint8))
    blurred = jpeg(cv2.GaussianBlur(read_image(faces_dir / OBAMA), (0, 0), 12))
    photos = [
        ("notes.pdf", b"%PDF-1.4 not an image"),
        ("wall.jpg", blank),
        ("couple.jpg", (faces_dir / COUPLE).read_bytes()),
        ("blurred.jpg", blurred),
    ]
    status, page = analyse(client, person_id, photos)
    assert status == 200
    english = ("not an image", "No face found", "2 faces", "blurred")
    chinese = ("无法识别", "未检测到人脸", "2 张人脸", "模糊")
    for en, zh in zip(english, chinese, strict=True):
        assert en in page or zh in page, en
    assert "disabled" in page  # the save button
    assert save(client, person_id, page) == 400
    assert templates_of(enrol_page, person_id) == 0


def test_duplicate_face_needs_confirmation(
    enrol_page: PageHarness, client: TestClient, faces_dir: Path
) -> None:
    first = person_with_card(client, "obama", "101", 1001)
    status, page = analyse(client, first, [("a.jpg", (faces_dir / OBAMA).read_bytes())])
    assert save(client, first, page) == 303
    second = person_with_card(client, "impostor", "102", 1002)
    status, page = analyse(client, second, [("b.jpg", (faces_dir / OBAMA_720).read_bytes())])
    assert status == 200 and "obama" in page and 'id="confirm-duplicate"' in page
    assert save(client, second, page) == 400
    assert templates_of(enrol_page, second) == 0
    assert two_factor_of(enrol_page, first) == two_factor_of(enrol_page, second) == (False, None)
    confirmed = client.post(
        f"/people/{second}/enrol/save",
        data={"csrf_token": csrf(client, "/"), "key": review_key(page), "confirm_duplicate": "1"},
        headers=HTML,
    )
    assert confirmed.status_code == 200  # the person page, after the redirect
    assert "both now need" in confirmed.text or "两人现均需" in confirmed.text
    assert templates_of(enrol_page, second) == 1
    # confusable: BOTH people now need a second credential, and it is audited
    both = {two_factor_of(enrol_page, first), two_factor_of(enrol_page, second)}
    assert both == {(True, "confusable")}
    with enrol_page.store.sessions.reading() as session:
        pairs = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "confusable_pair")
        ).all()
    assert len(pairs) == 1 and f"person:{first} person:{second}" in pairs[0]
    # a different person raises no warning
    third = person_with_card(client, "biden", "103", 1003)
    status, page = analyse(client, third, [("c.jpg", (faces_dir / BIDEN).read_bytes())])
    assert 'id="confirm-duplicate"' not in page


def test_a_short_capture_from_the_door_camera_gives_several_templates(
    enrol_page: PageHarness, client: TestClient, faces_dir: Path
) -> None:
    frames = [
        LiveFrame(read_image(path))
        for path in sorted((faces_dir / LIVE_VIDEO).glob("lestari15__real_*.jpg"))[:6]
    ]
    served = iter(frames)
    enrol_page.deps.frame_provider = lambda: next(served, frames[-1])
    person_id = person_with_card(client, "lestari", "105", 1005)
    status, page = analyse(client, person_id, [], source="camera")
    assert status == 200
    assert "camera-5.jpg" in page and "camera-6.jpg" not in page  # five frames, then stop
    assert page.count("✓") >= 3 and 'id="enrol-summary"' in page
    assert save(client, person_id, page) == 303
    assert templates_of(enrol_page, person_id) >= 3
    shown = client.get(f"/people/{person_id}", headers=HTML).text
    assert 'id="template-warning"' not in shown
    listed = client.get("/people", headers=HTML).text
    assert "too-few-templates" not in listed


def test_fewer_than_three_good_templates_are_warned_about(
    enrol_page: PageHarness, client: TestClient, faces_dir: Path
) -> None:
    person_id = person_with_card(client, "obama", "101", 1001)
    _status, page = analyse(client, person_id, [("a.jpg", (faces_dir / OBAMA).read_bytes())])
    assert '<p id="enrol-summary" class="warning">' in page  # 1 of the recommended 3
    assert save(client, person_id, page) == 303
    shown = client.get(f"/people/{person_id}", headers=HTML).text
    count = re.search(r'id="good-template-count">(\d+)<', shown)
    assert count and count.group(1) == "1" and 'id="template-warning"' in shown
    assert "too-few-templates" in client.get("/people", headers=HTML).text
    api = client.get(f"/api/v1/people/{person_id}", headers={"accept": "application/json"})
    body = api.json()
    assert (body["good_face_templates"], body["too_few_templates"]) == (1, True)
    # a person without face consent or templates (card only) is not nagged
    plain = person_with_card(client, "cardonly", "102", 1002)
    assert 'id="template-warning"' not in client.get(f"/people/{plain}", headers=HTML).text


def test_capture_from_the_door_camera(enrol_page: PageHarness, client: TestClient) -> None:
    person_id = person_with_card(client, "biden", "103", 1003)
    status, page = analyse(client, person_id, [], source="camera")
    assert status == 200 and "camera-1.jpg" in page
    assert "camera-2.jpg" not in page  # a still camera gives one frame, not five copies
    assert save(client, person_id, page) == 303
    assert templates_of(enrol_page, person_id) == 1
    models = enrol_page.deps.models
    assert models is not None
    calibrated = f"{models.similarity_threshold:.3f}"
    assert calibrated in client.get("/settings", headers=HTML).text
    snapshot = client.get("/camera.jpg")
    assert snapshot.status_code == 200 and snapshot.content.startswith(b"\xff\xd8")


def test_kept_photos_are_deleted_by_erasure(
    make_harness: HarnessFactory,
    real_models: tuple[FacePipeline, PipelineModels],
    faces_dir: Path,
) -> None:
    pipeline, models = real_models
    page = make_harness(pipeline=pipeline, models=models, keep_photos=True)
    page.create_admin()
    client = page.login(*ADMIN)
    person_id = person_with_card(client, "obama", "101", 1001)
    _status, review = analyse(client, person_id, [("a.jpg", (faces_dir / OBAMA).read_bytes())])
    assert save(client, person_id, review) == 303
    folder = page.deps.settings.photo_dir / str(person_id)
    assert len(list(folder.glob("*.jpg"))) == 1
    erased = client.post(
        f"/people/{person_id}/erase",
        data={"csrf_token": csrf(client, "/"), "confirm": "obama"},
        follow_redirects=False,
    )
    assert erased.status_code == 303
    assert not folder.exists() and templates_of(page, person_id) == 0


def test_oversized_upload_is_refused_with_a_clear_message(
    make_harness: HarnessFactory, real_models: tuple[FacePipeline, PipelineModels]
) -> None:
    page = make_harness(pipeline=real_models[0], max_upload_bytes=128 * 1024)
    page.create_admin()
    client = page.login(*ADMIN)
    person_id = person_with_card(client, "big", "101", 1001)
    data = {"csrf_token": csrf(client, "/"), "consent": "on", "source": "upload"}
    response = client.post(
        f"/people/{person_id}/enrol",
        data=data,
        files=[("photos", ("huge.jpg", b"\xff\xd8" + b"0" * 300_000, "image/jpeg"))],
    )
    assert response.status_code == 413
    assert "0 MB" not in response.json()["message"] and "MB" in response.json()["message"]
    assert templates_of(page, person_id) == 0


def test_api_enrolment_checks_consent_duplicates_and_saves(
    enrol_page: PageHarness, faces_dir: Path
) -> None:
    client = enrol_page.client()
    login = client.post("/api/v1/session", json={"username": ADMIN[0], "password": ADMIN[1]})
    headers = {"x-csrf-token": login.json()["csrf_token"]}
    version = enrol_page.deps.settings.consent_text_version
    ids = []
    for external_id, room in (("obama", "101"), ("twin", "102")):
        body = {
            "external_id": external_id,
            "role": "owner",
            "unit_number": "1",
            "room_number": room,
            "valid_from": "2026-01-01T00:00:00",
        }
        person = client.post("/api/v1/people", json=body, headers=headers).json()
        card = {"facility": 1, "number": 2000 + int(room)}
        client.post(f"/api/v1/people/{person['id']}/cards", json=card, headers=headers)
        ids.append(person["id"])

    def enrol(person_id: int, photo: str, **form: str) -> tuple[int, dict[str, object]]:
        data = {"consent": "true", "consent_text_version": version, **form}
        files = [("photos", ("p.jpg", (faces_dir / photo).read_bytes(), "image/jpeg"))]
        response = client.post(
            f"/api/v1/people/{person_id}/face-templates", data=data, files=files, headers=headers
        )
        return response.status_code, response.json()

    assert enrol(ids[0], OBAMA, consent="false")[0] == 422
    assert enrol(ids[0], OBAMA, consent_text_version="old")[0] == 422
    status, body = enrol(ids[0], OBAMA)
    assert status == 201 and body["saved"] == 1
    status, body = enrol(ids[1], OBAMA_720)
    assert status == 409 and body["detail"] == "duplicate_unconfirmed"
    assert templates_of(enrol_page, ids[1]) == 0
    status, body = enrol(ids[1], OBAMA_720, confirm_duplicate="true")
    assert status == 201 and templates_of(enrol_page, ids[1]) == 1
    status, body = enrol(ids[0], COUPLE)
    assert status == 422 and body["detail"] == "no_usable_photo"


def test_the_last_card_or_pin_of_an_enrolled_person_cannot_be_removed(
    enrol_page: PageHarness, client: TestClient, faces_dir: Path
) -> None:
    person_id = person_with_card(client, "obama", "101", 1001)
    _status, page = analyse(client, person_id, [("a.jpg", (faces_dir / OBAMA).read_bytes())])
    assert save(client, person_id, page) == 303
    token = csrf(client, "/")
    client.post(f"/people/{person_id}/pin", data={"csrf_token": token, "pin": "246810"})
    with enrol_page.store.sessions.reading() as session:
        [card_id] = session.scalars(select(Card.id).where(Card.person_id == person_id))
    removed = client.post(
        f"/people/{person_id}/cards/{card_id}/delete",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303  # the PIN remains
    last = client.post(f"/people/{person_id}/pin/delete", data={"csrf_token": token}, headers=HTML)
    assert last.status_code == 409 and ("last card/PIN" in last.text or "最后一个" in last.text)
    with enrol_page.store.sessions.reading() as session:
        assert session.get(Pin, person_id) is not None
        assert session.scalars(select(Card)).all() == []
    other = person_with_card(client, "biden", "102", 1002)  # no templates: may remove all
    with enrol_page.store.sessions.reading() as session:
        [other_card] = session.scalars(select(Card.id).where(Card.person_id == other))
    gone = client.post(
        f"/people/{other}/cards/{other_card}/delete",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    wrong_owner = client.post(
        f"/people/{other}/cards/{other_card}/delete", data={"csrf_token": token}
    )
    assert wrong_owner.status_code == 404
