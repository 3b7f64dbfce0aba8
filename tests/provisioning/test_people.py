"""People pages: create/edit/deactivate, credentials, hostile input, stale edits, CSV, audit."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from gateway.store.schema_credentials import Card, Pin
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Person
from provisioning.people_csv import COLUMNS
from tests.provisioning.conftest import PageHarness, csrf

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQLI = "Robert'); DROP TABLE person;--"
HTML = {"accept": "text/html"}


def person_form(**values: str) -> dict[str, str]:
    form = {
        "external_id": "r101",
        "display_name": "张伟",
        "role": "owner",
        "building": "",
        "unit_number": "1",
        "room_number": "101",
        "valid_from": "2026-01-01T00:00",
        "valid_until": "",
        "active": "on",
    }
    form.update(values)
    return form


def create(client: TestClient, **values: str) -> int:
    form = {**person_form(**values), "csrf_token": csrf(client, "/people/new")}
    response = client.post("/people/new", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def people_count(page: PageHarness) -> int:
    with page.store.sessions.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Person)) or 0)


def test_create_edit_and_deactivate_a_resident(harness: PageHarness, staff: TestClient) -> None:
    person_id = create(staff)
    page = staff.get(f"/people/{person_id}", headers=HTML).text
    assert "张伟" in page and 'value="101"' in page
    token = csrf(staff, f"/people/{person_id}")
    version = re.search(r'name="version" value="([^"]+)"', page)
    assert version
    edited = person_form(display_name="张伟伟", room_number="102")
    response = staff.post(
        f"/people/{person_id}",
        data={**edited, "csrf_token": token, "version": version.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    staff.post(f"/people/{person_id}/active", data={"csrf_token": token, "active": "false"})
    with harness.store.sessions.reading() as session:
        person = session.get(Person, person_id)
        assert person is not None
        assert person.display_name == "张伟伟" and not person.active
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["create_person", "update_person", "deactivate_person"]


def test_html_and_sql_in_names_are_stored_verbatim_and_escaped_everywhere(
    harness: PageHarness, staff: TestClient
) -> None:
    person_id = create(staff, display_name=XSS, external_id="x1")
    create(staff, display_name=SQLI, external_id="x2", room_number="102")
    for path in ("/people", f"/people/{person_id}", "/people?q=" + SQLI):
        page = staff.get(path, headers=HTML).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert" in page or path.endswith(SQLI)
    assert "DROP TABLE" in staff.get("/people", params={"q": "DROP"}, headers=HTML).text
    assert people_count(harness) == 2
    with harness.store.sessions.reading() as session:
        names = set(session.scalars(select(Person.display_name)))
    assert names == {XSS, SQLI}


def test_bad_person_input_is_refused_with_a_message_and_nothing_stored(
    harness: PageHarness, staff: TestClient
) -> None:
    token = csrf(staff, "/people/new")
    for bad in (
        person_form(external_id="bad id with spaces"),
        person_form(role="tenant"),  # a tenant without an end date
        person_form(unit_number="", room_number=""),  # a resident without a unit
        person_form(valid_until="2025-01-01T00:00"),  # ends before it starts
        person_form(role="king"),
    ):
        response = staff.post("/people/new", data={**bad, "csrf_token": token}, headers=HTML)
        assert response.status_code == 400
        assert 'class="errors"' in response.text
    assert people_count(harness) == 0
    create(staff)
    duplicate = staff.post("/people/new", data={**person_form(), "csrf_token": token}, headers=HTML)
    assert duplicate.status_code == 400 and people_count(harness) == 1


def test_a_stale_form_does_not_overwrite_a_concurrent_edit(
    harness: PageHarness, staff: TestClient, admin: TestClient
) -> None:
    person_id = create(staff)
    forms = {}
    for name, client in (("staff", staff), ("admin", admin)):
        page = client.get(f"/people/{person_id}", headers=HTML).text
        version = re.search(r'name="version" value="([^"]+)"', page)
        assert version
        forms[name] = (client, csrf(client, "/"), version.group(1))
    client, token, version = forms["admin"]
    first = client.post(
        f"/people/{person_id}",
        data={**person_form(display_name="First"), "csrf_token": token, "version": version},
        follow_redirects=False,
    )
    assert first.status_code == 303
    client, token, version = forms["staff"]
    second = client.post(
        f"/people/{person_id}",
        data={**person_form(display_name="Second"), "csrf_token": token, "version": version},
        headers=HTML,
    )
    assert second.status_code == 409
    assert "changed this person" in second.text or "已被他人修改" in second.text
    with harness.store.sessions.reading() as session:
        person = session.get(Person, person_id)
        assert person is not None and person.display_name == "First"


def test_cards_and_pin_are_stored_and_duplicates_refused(
    harness: PageHarness, staff: TestClient
) -> None:
    alice = create(staff, external_id="alice")
    bob = create(staff, external_id="bob", room_number="102")
    token = csrf(staff, "/")
    card = {"csrf_token": token, "facility": "12", "number": "3456"}
    assert staff.post(f"/people/{alice}/cards", data=card).status_code in (200, 303)
    taken = staff.post(f"/people/{bob}/cards", data=card, headers=HTML)
    assert taken.status_code == 400
    pin = {"csrf_token": token, "pin": "12ab"}
    assert staff.post(f"/people/{alice}/pin", data=pin).status_code == 422
    pin["pin"] = "482916"
    assert staff.post(f"/people/{alice}/pin", data=pin, follow_redirects=False).status_code == 303
    with harness.store.sessions.reading() as session:
        holders = list(session.scalars(select(Card.person_id)))
        stored = session.get(Pin, alice)
    assert holders == [alice]
    assert stored is not None and "482916" not in stored.pin_hash


def test_csv_export_and_all_or_nothing_import(harness: PageHarness, staff: TestClient) -> None:
    create(staff, external_id="r1", display_name="=cmd|' /C calc'!A0")
    exported = staff.get("/people.csv")
    assert exported.status_code == 200
    assert "'=cmd" in exported.text  # formula injection neutralised
    token = csrf(staff, "/people")
    header = ",".join(COLUMNS) + "\n"
    good = header + "r2,李娜,tenant,,2,201,2026-01-01T00:00,2027-01-01T00:00,yes\n"
    bad = good + "r3,王,tenant,,2,202,2026-01-01T00:00,,yes\n"  # tenant without an end
    refused = staff.post(
        "/people-import",
        data={"csrf_token": token},
        files={"file": ("people.csv", bad.encode(), "text/csv")},
        headers=HTML,
    )
    assert refused.status_code == 400 and "line 3" in refused.text
    assert people_count(harness) == 1
    accepted = staff.post(
        "/people-import",
        data={"csrf_token": token},
        files={"file": ("people.csv", good.encode(), "text/csv")},
        headers=HTML,
    )
    assert accepted.status_code == 200 and people_count(harness) == 2
    not_text = staff.post(
        "/people-import",
        data={"csrf_token": token},
        files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")},
        headers=HTML,
    )
    assert not_text.status_code == 400


def test_staff_cannot_edit_or_erase_the_audit_log(harness: PageHarness, staff: TestClient) -> None:
    create(staff)
    assert staff.get("/audit").status_code == 403
    with harness.store.engine.connect() as connection, pytest.raises(DatabaseError):
        connection.execute(text("UPDATE audit_log SET actor = 'nobody'"))
    with harness.store.sessions.reading() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "create_person")
        ).one()
    assert entry.actor == "guard" and entry.source_address == "testclient"


def test_erasure_deletes_credentials_and_pseudonymises(
    harness: PageHarness, admin: TestClient, staff: TestClient
) -> None:
    person_id = create(staff, external_id="gone", display_name="Leaving Soon")
    token = csrf(staff, "/")
    staff.post(
        f"/people/{person_id}/cards", data={"csrf_token": token, "facility": "1", "number": "2"}
    )
    refused = staff.post(
        f"/people/{person_id}/erase", data={"csrf_token": token, "confirm": "gone"}
    )
    assert refused.status_code == 403
    admin_token = csrf(admin, "/")
    wrong = admin.post(
        f"/people/{person_id}/erase", data={"csrf_token": admin_token, "confirm": "other"}
    )
    assert wrong.status_code == 400
    done = admin.post(
        f"/people/{person_id}/erase",
        data={"csrf_token": admin_token, "confirm": "gone"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with harness.store.sessions.reading() as session:
        person = session.get(Person, person_id)
        assert person is not None and person.erased_at is not None
        assert person.display_name is None and person.external_id != "gone"
        assert session.scalar(select(func.count()).select_from(Card)) == 0
    assert "Leaving Soon" not in admin.get("/people", headers=HTML).text
