"""Visitor codes, events, alerts and the watch list through the pages and the API."""

from __future__ import annotations

import re
from datetime import timedelta

import cv2
import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.application.visitor_codes import MAX_USES
from gateway.store.alerts_audit import raise_alert
from gateway.store.base import Method, Severity, Verdict
from gateway.store.events import record_access_event
from gateway.store.schema_credentials import VisitorCode
from gateway.store.schema_events import AuditEntry
from gateway.store.visitor_codes import redeem_visitor_code
from gateway.store.watchlist import upsert_watchlist_entry
from tests.provisioning.conftest import PageHarness, csrf
from tests.provisioning.test_api_and_assets import api_client
from tests.provisioning.test_people import create

HTML = {"accept": "text/html"}
CODE_RE = re.compile(r'id="issued-code">(\d+)<')


def issue_code(client: TestClient, room: str = "101", uses: str = "2") -> tuple[int, str]:
    response = client.post(
        "/codes",
        data={
            "csrf_token": csrf(client, "/codes"),
            "unit_number": "1",
            "room_number": room,
            "valid_from": "2026-01-01T00:00",
            "valid_until": "2036-01-01T00:00",
            "max_uses": uses,
        },
        headers=HTML,
    )
    return response.status_code, response.text


def test_the_form_and_the_api_share_the_one_max_uses_cap(
    harness: PageHarness, staff: TestClient
) -> None:
    create(staff)  # creates unit 1-101
    assert issue_code(staff, uses=str(MAX_USES + 1))[0] == 400
    assert issue_code(staff, uses=str(MAX_USES))[0] == 200
    client, token = api_client(harness)
    body = {
        "unit_number": "1",
        "room_number": "101",
        "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_until": "2036-01-01T00:00:00+08:00",
    }
    over = client.post("/api/v1/codes", json={**body, "max_uses": MAX_USES + 1}, headers=token)
    assert over.status_code == 422
    with harness.store.sessions.reading() as session:
        assert [row.max_uses for row in session.scalars(select(VisitorCode))] == [MAX_USES]


def test_issue_redeem_and_revoke_a_visitor_code(harness: PageHarness, staff: TestClient) -> None:
    create(staff)  # creates unit 1-101
    status, page = issue_code(staff, room="999")
    assert status == 400  # no such unit
    status, page = issue_code(staff)
    assert status == 200
    match = CODE_RE.search(page)
    assert match and len(match.group(1)) == 6
    code = match.group(1)
    door_id = harness.app.state.context.door_id
    with harness.store.sessions.writing() as session:
        [row] = session.scalars(select(VisitorCode))
        assert code not in row.code_hash
        redemption = redeem_visitor_code(
            session, harness.store.codes, door_id=door_id, code=code, at=harness.clock()
        )
        assert redemption.granted
    listing = staff.get("/codes", headers=HTML).text
    assert "1 / 2" in listing
    staff.post(f"/codes/{row.id}/revoke", data={"csrf_token": csrf(staff, "/codes")})
    with harness.store.sessions.writing() as session:
        again = redeem_visitor_code(
            session, harness.store.codes, door_id=door_id, code=code, at=harness.clock()
        )
        assert not again.granted and again.reason == "code_revoked"
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "issue_visitor_code" in actions and "revoke_visitor_code" in actions


def test_events_filter_and_csv_export(harness: PageHarness, staff: TestClient) -> None:
    person_id = create(staff, display_name="王芳")
    door_id = harness.app.state.context.door_id
    now = harness.clock()
    with harness.store.sessions.writing() as session:
        for minutes, method, verdict, who in (
            (30, Method.FACE, Verdict.GRANT, person_id),
            (20, Method.CODE, Verdict.DENY, None),
            (10, Method.CARD, Verdict.GRANT, person_id),
        ):
            record_access_event(
                session,
                gateway_id="gw-1",
                door_id=door_id,
                method=method,
                verdict=verdict,
                reason_code="ok" if verdict is Verdict.GRANT else "code_unknown",
                occurred_at=now - timedelta(minutes=minutes),
                person_id=who,
            )
    page = staff.get("/events", headers=HTML).text
    assert page.count("王芳") == 2 and "code_unknown" in page
    denied = staff.get("/events", params={"kind": "deny"}, headers=HTML).text
    assert "code_unknown" in denied and "王芳" not in denied
    by_person = staff.get("/api/v1/events", params={"person": "王"}).json()
    assert [e["method"] for e in by_person] == ["card", "face"]
    csv_text = staff.get("/events.csv", params={"kind": "face"}).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("occurred_at,door,method") and len(lines) == 2
    assert staff.get("/events", params={"since": "not a date"}).status_code == 422
    assert "王芳" in staff.get("/", headers=HTML).text  # dashboard recent events


def test_visitor_call_events_show_with_their_call_id(
    harness: PageHarness, staff: TestClient
) -> None:
    from gateway.store.visitor_call_events import record_call_event

    call_id = "ab12cd34" + "0" * 24
    with harness.store.sessions.writing() as session:
        for outcome, reason in (("placed", "call_placed"), ("missed", "call_missed")):
            record_call_event(
                session,
                gateway_id="gw-1",
                door_id=harness.app.state.context.door_id,
                call_id=call_id,
                outcome=outcome,
                verdict=Verdict.DENY,
                reason=reason,
                occurred_at=harness.clock(),
                unit=None,
            )
    page = staff.get("/events", params={"kind": "call"}, headers=HTML).text
    assert "call_placed" in page and "call_missed" in page
    assert page.count(f'title="{call_id}">#ab12cd34<') == 2
    csv_lines = staff.get("/events.csv", params={"kind": "call"}).text.strip().splitlines()
    assert csv_lines[0].endswith(",call_id") and all(
        line.endswith(f",{call_id}") for line in csv_lines[1:]
    )
    api = staff.get("/api/v1/events", params={"method": "call"}).json()
    assert sorted((e["reason"], e["call_id"]) for e in api) == [
        ("call_missed", call_id),
        ("call_placed", call_id),
    ]
    others = staff.get("/api/v1/events", params={"method": "card"}).json()
    assert all(e["call_id"] is None for e in others)


def test_alerts_show_snapshots_and_are_acknowledged_once(
    harness: PageHarness, staff: TestClient
) -> None:
    ok, snapshot = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))
    assert ok
    with harness.store.sessions.writing() as session:
        alert = raise_alert(
            session,
            kind="tailgate",
            severity=Severity.WARNING,
            occurred_at=harness.clock(),
            max_snapshot_bytes=100_000,
            snapshot_jpeg=snapshot.tobytes(),
        )
    dashboard = staff.get("/", headers=HTML).text
    assert "tailgate" in dashboard and f"/alerts/{alert.id}/snapshot.jpg" in dashboard
    assert staff.get(f"/alerts/{alert.id}/snapshot.jpg").content.startswith(b"\xff\xd8")
    token = csrf(staff, "/alerts")
    staff.post(f"/alerts/{alert.id}/ack", data={"csrf_token": token})
    assert staff.get("/api/v1/alerts", params={"open_only": True}).json() == []
    second = staff.post(f"/api/v1/alerts/{alert.id}/ack", headers={"x-csrf-token": token})
    assert second.status_code == 404
    [listed] = staff.get("/api/v1/alerts").json()
    assert listed["acknowledged_by"] == "guard"


def test_watchlist_is_read_only_and_shows_no_photos(
    harness: PageHarness, staff: TestClient
) -> None:
    with harness.store.sessions.writing() as session:
        upsert_watchlist_entry(
            session,
            harness.store.cipher,
            external_id="wl-<b>42</b>",
            category="missing",
            model_id="m1",
            vector=np.ones(8, np.float32),
            version=3,
            at=harness.clock(),
        )
    page = staff.get("/watchlist", headers=HTML).text
    assert "wl-&lt;b&gt;42&lt;/b&gt;" in page and "missing" in page
    assert "<img" not in page.split("<main>")[1]
    token = csrf(staff, "/watchlist")
    assert staff.post("/watchlist", data={"csrf_token": token}).status_code == 405


def test_dashboard_shows_door_state_and_health(staff: TestClient) -> None:
    page = staff.get("/", headers=HTML).text
    assert 'id="door-state">locked<' in page
    for name in ("camera", "models", "broker", "disk"):
        assert name in page
    status = staff.get("/api/v1/status").json()
    assert status["door_state"] == "locked"
    assert {c["name"]: c["ok"] for c in status["checks"]}["broker"] is False
    assert staff.get("/camera.jpg").status_code == 503  # this harness has no camera frame
