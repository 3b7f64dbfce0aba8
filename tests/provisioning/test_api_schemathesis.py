"""Property-based calls against the JSON API's OpenAPI with an authenticated admin session:
whatever schemathesis generates, the API answers without a server error (no 500s)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.provisioning.conftest import ADMIN, HarnessFactory, PageHarness

pytestmark = pytest.mark.slow


@pytest.fixture
def api_page(make_harness: HarnessFactory) -> PageHarness:
    page = make_harness()
    page.create_admin()
    return page


@pytest.fixture
def api_schema(api_page: PageHarness) -> Any:
    loaded = schemathesis.openapi.from_dict(api_page.app.openapi())
    loaded.app = api_page.app
    return loaded


@pytest.fixture
def credentials(api_page: PageHarness) -> tuple[dict[str, str], dict[str, str]]:
    client = api_page.client()
    response = client.post("/api/v1/session", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 200
    cookies = {"menwei_session": response.cookies["menwei_session"]}
    # a unit the code endpoint can find, so issuing a code is reachable
    made = client.post(
        "/api/v1/people",
        json={
            "external_id": "seed",
            "role": "owner",
            "unit_number": "1",
            "room_number": "101",
            "valid_from": "2026-01-01T00:00:00",
        },
        headers={"x-csrf-token": response.json()["csrf_token"]},
    )
    assert made.status_code == 201
    return cookies, {"x-csrf-token": response.json()["csrf_token"]}


def test_api_never_answers_with_a_server_error(
    api_schema: Any, credentials: tuple[dict[str, str], dict[str, str]]
) -> None:
    cookies, headers = credentials
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        def call(case: Any) -> None:
            case.call_and_validate(cookies=cookies, headers=headers, checks=[not_a_server_error])

        call()
