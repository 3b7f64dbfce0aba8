"""Credentials on the staff page and the API over real HTTPS (uvicorn + httpx), as an attacker or
a careless integrator would send them:

* an erased person gets no card, PIN or two-factor setting back, through the HTML routes or the
  API (both 404, nothing stored, nothing audited), and a later swipe of that card is not tied to
  the erased row;
* cards are stored with their Wiegand format and refused when they do not fit it;
* the two-factor setting is shown, edited and audited on the page and the API.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from gateway.store.credentials import find_card
from gateway.store.schema_credentials import Card, Pin
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Person
from provisioning.serve import start_server
from tests.provisioning.conftest import ADMIN, HarnessFactory, PageHarness, csrf
from tests.provisioning.test_people import create

HTML = {"accept": "text/html"}


@pytest.fixture
def served(make_harness: HarnessFactory) -> Iterator[tuple[PageHarness, httpx.Client]]:
    page = make_harness(bind="127.0.0.1")
    page.create_admin()
    server = start_server(page.app, page.deps.settings, port=0)
    client = httpx.Client(
        base_url=f"https://127.0.0.1:{server.port}", verify=False, timeout=30.0, headers=HTML
    )
    try:
        token = csrf(client, "/login")
        response = client.post(
            "/login", data={"csrf_token": token, "username": ADMIN[0], "password": ADMIN[1]}
        )
        assert response.status_code == 303, response.text
        yield page, client
    finally:
        client.close()
        server.stop()


def _erase(client: httpx.Client, person_id: int, external_id: str) -> None:
    response = client.post(
        f"/people/{person_id}/erase",
        data={"csrf_token": csrf(client, "/"), "confirm": external_id},
    )
    assert response.status_code == 303, response.text


def _audit_actions(page: PageHarness) -> list[str]:
    with page.store.sessions.reading() as session:
        return [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_an_erased_person_gets_no_credential_back_through_html_or_api(
    served: tuple[PageHarness, httpx.Client],
) -> None:
    page, client = served
    person_id = create(client, external_id="leaver")
    _erase(client, person_id, "leaver")
    before = _audit_actions(page)
    token = csrf(client, "/")
    attacks = [
        client.post(
            f"/people/{person_id}/cards",
            data={"csrf_token": token, "facility": "12", "number": "3456"},
        ),
        client.post(f"/people/{person_id}/pin", data={"csrf_token": token, "pin": "482916"}),
        client.post(
            f"/people/{person_id}/two-factor", data={"csrf_token": token, "required": "true"}
        ),
    ]
    api = {"x-csrf-token": token, "accept": "application/json"}
    attacks += [
        client.post(
            f"/api/v1/people/{person_id}/cards", json={"facility": 12, "number": 3456}, headers=api
        ),
        client.put(f"/api/v1/people/{person_id}/pin", json={"pin": "482916"}, headers=api),
        client.put(f"/api/v1/people/{person_id}/two-factor", json={"required": True}, headers=api),
    ]
    assert [r.status_code for r in attacks] == [404] * 6, [r.text[:200] for r in attacks]
    with page.store.sessions.reading() as session:
        assert session.scalar(select(func.count()).select_from(Card)) == 0
        assert session.get(Pin, person_id) is None
        person = session.get(Person, person_id)
        assert person is not None and not person.two_factor
        assert find_card(session, 26, 12, 3456).holder is None  # a swipe names nobody
    assert _audit_actions(page) == before


def test_cards_are_bound_to_their_format_and_checked_against_it(
    served: tuple[PageHarness, httpx.Client],
) -> None:
    page, client = served
    person_id = create(client, external_id="carded")
    token = csrf(client, "/")
    too_big = client.post(
        f"/people/{person_id}/cards",
        data={"csrf_token": token, "facility": "4321", "number": "60000", "format_bits": "26"},
    )
    assert too_big.status_code == 400 and "26" in too_big.text
    ok = client.post(
        f"/people/{person_id}/cards",
        data={"csrf_token": token, "facility": "4321", "number": "60000", "format_bits": "34"},
    )
    assert ok.status_code == 303
    bogus = client.post(
        f"/people/{person_id}/cards",
        data={"csrf_token": token, "facility": "1", "number": "2", "format_bits": "40"},
    )
    assert bogus.status_code == 400
    api = {"x-csrf-token": token, "accept": "application/json"}
    inferred = client.post(
        f"/api/v1/people/{person_id}/cards", json={"facility": 7, "number": 77}, headers=api
    )
    assert inferred.status_code == 201 and inferred.json()["cards"] == 2
    wrong = client.post(
        f"/api/v1/people/{person_id}/cards",
        json={"facility": 300, "number": 1, "format_bits": 26},
        headers=api,
    )
    assert wrong.status_code == 422
    with page.store.sessions.reading() as session:
        formats = {(c.facility, c.number): c.format_bits for c in session.scalars(select(Card))}
        assert formats == {(4321, 60000): 34, (7, 77): 26}
        assert find_card(session, 26, 4321, 60000).reason == "card_format_mismatch"
        assert find_card(session, 34, 4321, 60000).holder == person_id
    shown = client.get(f"/people/{person_id}").text
    assert "4321/60000" in shown and ("34-bit" in shown or "34 位" in shown)


def test_two_factor_is_shown_edited_and_audited(served: tuple[PageHarness, httpx.Client]) -> None:
    page, client = served
    person_id = create(client, external_id="careful")
    token = csrf(client, "/")
    assert 'id="toggle-two-factor"' in client.get(f"/people/{person_id}").text
    response = client.post(
        f"/people/{person_id}/two-factor", data={"csrf_token": token, "required": "true"}
    )
    assert response.status_code == 303
    shown = client.get(f"/people/{person_id}").text
    assert 'id="two-factor-missing"' in shown  # no credential yet: it would lock them out
    client.post(f"/people/{person_id}/pin", data={"csrf_token": token, "pin": "482916"})
    client.post(
        f"/people/{person_id}/cards",
        data={"csrf_token": token, "facility": "12", "number": "3456"},
    )
    shown = client.get(f"/people/{person_id}").text
    assert 'id="two-factor-missing"' not in shown and f"# {person_id} #" in shown
    listed = client.get("/people").text
    assert 'class="two-factor"' in listed
    api = {"x-csrf-token": token, "accept": "application/json"}
    person = client.get(f"/api/v1/people/{person_id}", headers=api).json()
    assert (person["two_factor"], person["two_factor_source"]) == (True, "staff")
    cleared = client.put(
        f"/api/v1/people/{person_id}/two-factor", json={"required": False}, headers=api
    )
    assert cleared.status_code == 200 and cleared.json()["two_factor"] is False
    bad = client.put(
        f"/api/v1/people/{person_id}/two-factor", json={"required": "maybe"}, headers=api
    )
    assert bad.status_code == 422
    assert [a for a in _audit_actions(page) if "two_factor" in a] == [
        "set_two_factor",
        "clear_two_factor",
    ]
