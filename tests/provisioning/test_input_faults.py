"""Inputs and faults that used to end in a 500 or in a false success (issue 12, item 12):
dates in year 1 (and 9999) on every date input, a CSV field over the csv module's 128 KiB limit,
and an erasure whose WAL truncate fails because a real reader holds an old snapshot."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.store.schema_credentials import VisitorCode
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Person
from provisioning.people_csv import COLUMNS
from tests.provisioning.conftest import ADMIN, PageHarness, csrf
from tests.provisioning.test_people import create, people_count, person_form

HTML = {"accept": "text/html"}
YEAR_1 = "0001-01-01T00:00"
YEAR_9999 = "9999-12-31T23:59:00-10:00"  # UTC is in year 10000


def api(harness: PageHarness) -> tuple[TestClient, dict[str, str]]:
    client = harness.client()
    login = client.post("/api/v1/session", json={"username": ADMIN[0], "password": ADMIN[1]})
    return client, {"x-csrf-token": login.json()["csrf_token"]}


def codes_count(harness: PageHarness) -> int:
    with harness.store.sessions.reading() as session:
        return int(session.scalar(select(func.count()).select_from(VisitorCode)) or 0)


def test_dates_outside_the_supported_years_are_a_clear_4xx_everywhere(
    harness: PageHarness, admin: TestClient
) -> None:
    create(admin)  # unit 1-101 for the codes
    client, headers = api(harness)
    for bad in (YEAR_1, YEAR_9999):
        for path in (f"/api/v1/events?since={bad}", f"/api/v1/events?until={bad}"):
            response = client.get(path.replace("+", "%2B"))
            assert response.status_code == 422, (path, response.text)
            assert "1970" in response.json()["message"]
        page = admin.get("/events", params={"since": bad}, headers=HTML)
        assert page.status_code == 422 and "1970" in page.text
        code = {"unit_number": "1", "room_number": "101", "valid_from": bad}
        code["valid_until"] = "2026-01-02T00:00:00+08:00"
        response = client.post("/api/v1/codes", json=code, headers=headers)
        assert response.status_code == 422, response.text
        form = {
            "csrf_token": csrf(admin, "/codes"),
            "unit_number": "1",
            "room_number": "101",
            "valid_from": "2026-01-01T00:00",
            "valid_until": bad,
        }
        assert admin.post("/codes", data=form, headers=HTML).status_code == 422
        person = {
            "external_id": "year1",
            "role": "owner",
            "unit_number": "1",
            "room_number": "102",
            "valid_from": bad,
        }
        response = client.post("/api/v1/people", json=person, headers=headers)
        assert response.status_code == 422 and "1970" in response.text
        form = {**person_form(external_id="year1", valid_from=bad)}
        form["csrf_token"] = csrf(admin, "/people/new")
        page = admin.post("/people/new", data=form, headers=HTML)
        assert page.status_code == 400 and "1970" in page.text
    assert codes_count(harness) == 0 and people_count(harness) == 1


def post_csv(client: TestClient, text: str) -> tuple[int, str]:
    response = client.post(
        "/people-import",
        data={"csrf_token": csrf(client, "/people")},
        files={"file": ("people.csv", text.encode(), "text/csv")},
        headers=HTML,
    )
    return response.status_code, response.text


def test_csv_with_a_huge_field_or_a_year_1_date_is_refused_by_line(
    harness: PageHarness, staff: TestClient
) -> None:
    header = ",".join(COLUMNS) + "\n"
    good = "r1,李娜,owner,,2,201,2026-01-01T00:00,,yes\n"
    huge = f'r2,"{"x" * 200 * 1024}",owner,,2,202,2026-01-01T00:00,,yes\n'
    status, page = post_csv(staff, header + good + huge)
    assert status == 400 and "line 3" in page and "field limit" in page
    status, page = post_csv(staff, header + good + f"r3,王,owner,,2,203,{YEAR_1},,yes\n")
    assert status == 400 and "line 3" in page and "1970" in page
    assert people_count(harness) == 0  # all or nothing


@contextmanager
def reader_holding_a_snapshot(harness: PageHarness) -> Iterator[None]:
    """Another connection (as the door or a report would) in a read transaction, so the WAL
    cannot be checkpointed past its snapshot until it ends."""
    database = harness.store.engine.url.database
    assert database is not None
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM person").fetchone()
        yield
    finally:
        connection.execute("COMMIT")
        connection.close()


def audit_actions(harness: PageHarness) -> list[str]:
    with harness.store.sessions.reading() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def staff_page_check(client: TestClient) -> dict[str, object]:
    checks = client.get("/api/v1/status").json()["checks"]
    check: dict[str, object] = next(c for c in checks if c["name"] == "staff page")
    return check


def test_erasure_reports_a_wal_it_could_not_clear(harness: PageHarness, admin: TestClient) -> None:
    page_person = create(admin, external_id="page-gone", room_number="101")
    api_person = create(admin, external_id="api-gone", room_number="102")
    later = create(admin, external_id="later-gone", room_number="103")
    client, headers = api(harness)
    with reader_holding_a_snapshot(harness):
        form = {"csrf_token": csrf(admin, "/"), "confirm": "page-gone"}
        page = admin.post(
            f"/people/{page_person}/erase", data=form, headers=HTML, follow_redirects=False
        )
        assert page.status_code == 503 and "WAL" in page.text
        response = client.delete(f"/api/v1/people/{api_person}", headers=headers)
        assert response.status_code == 503
        assert response.json()["detail"] == "erased_wal_pending"
    with harness.store.sessions.reading() as session:  # the erasures themselves stand
        for person_id in (page_person, api_person):
            person = session.get(Person, person_id)
            assert person is not None and person.erased_at is not None
    assert audit_actions(harness).count("erase_wal_not_truncated") == 2
    check = staff_page_check(client)
    assert check["ok"] is False and "erase_wal_not_truncated 2" in str(check["detail"])
    # Once a later erasure clears the WAL, the fault no longer stands (the count stays).
    assert client.delete(f"/api/v1/people/{later}", headers=headers).status_code == 204
    check = staff_page_check(client)
    assert check["ok"] is True and "erase_wal_not_truncated 2" in str(check["detail"])
