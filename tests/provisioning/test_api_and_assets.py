"""The JSON API's credential and concurrency rules, the live view's boxes, and local-only assets."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

import provisioning
from gateway.application.live_frame import FaceBox, LiveFrame
from gateway.store.schema_credentials import Pin
from provisioning.routes_dashboard import annotate
from tests.provisioning.conftest import ADMIN, PageHarness

PACKAGE = Path(provisioning.__file__).parent


def api_client(harness: PageHarness) -> tuple[TestClient, dict[str, str]]:
    client = harness.client()
    login = client.post("/api/v1/session", json={"username": ADMIN[0], "password": ADMIN[1]})
    return client, {"x-csrf-token": login.json()["csrf_token"]}


def test_api_person_lifecycle_with_credentials_and_stale_versions(harness: PageHarness) -> None:
    client, csrf = api_client(harness)
    body = {
        "external_id": "t1",
        "display_name": "租户",
        "role": "tenant",
        "unit_number": "2",
        "room_number": "201",
        "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_until": "2027-01-01T00:00:00+08:00",
    }
    person = client.post("/api/v1/people", json=body, headers=csrf).json()
    assert person["valid_from"].startswith("2025-12-31T16:00")
    card = {"facility": 7, "number": 99}
    path = f"/api/v1/people/{person['id']}"
    assert client.post(path + "/cards", json=card, headers=csrf).json()["cards"] == 1
    assert client.post(path + "/cards", json=card, headers=csrf).status_code == 409
    assert client.put(path + "/pin", json={"pin": "12"}, headers=csrf).status_code == 422
    assert client.put(path + "/pin", json={"pin": "135790"}, headers=csrf).status_code == 204
    with harness.store.sessions.reading() as session:
        assert session.get(Pin, person["id"]) is not None
    update = {**body, "display_name": "新名字", "version": person["version"]}
    assert client.put(path, json=update, headers=csrf).status_code == 200
    stale = client.put(path, json={**update, "display_name": "旧"}, headers=csrf)
    assert stale.status_code == 409 and stale.json()["detail"] == "concurrent_edit"
    assert client.get(path).json()["display_name"] == "新名字"
    assert client.delete(path, headers=csrf).status_code == 204
    erased = client.get(path).json()
    assert erased["erased"] and erased["display_name"] is None and erased["cards"] == 0
    assert client.post(path + "/cards", json=card, headers=csrf).status_code == 404
    with harness.store.sessions.reading() as session:
        assert session.scalars(select(Pin)).all() == []


def test_live_view_draws_a_box_around_each_face() -> None:
    import cv2

    image = np.full((240, 320, 3), 128, np.uint8)
    frame = LiveFrame(image, (FaceBox((100, 60, 80, 100), "#12", granted=True),))
    decoded = cv2.imdecode(np.frombuffer(annotate(frame), np.uint8), cv2.IMREAD_COLOR)
    edge = decoded[110, 100]  # on the left edge of the box
    inside = decoded[110, 140]
    assert edge[1] > 140 and edge[2] < 100  # green: a granted face
    assert abs(int(inside[1]) - 128) < 12  # the face itself is not painted over
    assert image[110, 100].tolist() == [128, 128, 128]  # the service's frame is not modified


def test_pages_load_nothing_from_outside_the_box() -> None:
    external = re.compile(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", re.IGNORECASE)
    files = list((PACKAGE / "templates").glob("*.html")) + list((PACKAGE / "static").iterdir())
    assert len(files) > 10
    for path in files:
        assert not external.search(path.read_text(encoding="utf-8")), path


def test_security_headers_on_every_page(harness: PageHarness) -> None:
    response = harness.client().get("/login", headers={"accept": "text/html"})
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # no inline scripts: the CSP would block them
