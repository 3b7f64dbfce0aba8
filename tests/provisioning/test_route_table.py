"""Every route's access, generated from the app's route table: a new route cannot be forgotten.

Unauthenticated clients get 401 on every non-public route; a staff client gets 403 on every
admin route; a route that declares no access level is closed to everyone, admins included.
"""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from provisioning.web import ACCESS_KEY, Access
from tests.provisioning.conftest import PageHarness

PARAM = re.compile(r"\{[^}]+\}")
EXPECTED_PUBLIC = {
    "GET /setup",
    "POST /setup",
    "GET /login",
    "POST /login",
    "GET /lang/{language}",
    "GET /healthz",
    "POST /api/v1/session",
}


def route_table(app: FastAPI) -> list[tuple[str, str, Access]]:
    """(method, path, level) of every route, included routers flattened."""
    rows = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
            continue
        assert isinstance(route, APIRoute), f"{route} is not an APIRoute: the guard skips it"
        assert context.path is not None
        level = Access((route.openapi_extra or {})[ACCESS_KEY])
        for method in sorted(route.methods):
            rows.append((method, context.path, level))
    return rows


def concrete(path: str) -> str:
    return PARAM.sub("1", path).replace("/lang/1", "/lang/en")


def test_every_route_declares_an_access_level(harness: PageHarness) -> None:
    rows = route_table(harness.app)
    assert len(rows) > 40
    public = {f"{m} {p}" for m, p, level in rows if level is Access.PUBLIC}
    assert public == EXPECTED_PUBLIC


def test_unauthenticated_client_gets_401_everywhere_but_public_routes(
    harness: PageHarness,
) -> None:
    client = harness.client()
    for method, path, level in route_table(harness.app):
        if level is Access.PUBLIC:
            continue
        response = client.request(method, concrete(path), follow_redirects=False)
        assert response.status_code == 401, (method, path, response.status_code)


def test_staff_client_gets_403_on_every_admin_route(
    harness: PageHarness, staff: TestClient
) -> None:
    admin_rows = [r for r in route_table(harness.app) if r[2] is Access.ADMIN]
    assert {p for _m, p, _l in admin_rows} >= {"/settings", "/audit", "/accounts"}
    for method, path, _level in admin_rows:
        response = staff.request(method, concrete(path), follow_redirects=False)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json()["detail"] == "admin_only"


def test_staff_client_reaches_staff_pages(harness: PageHarness, staff: TestClient) -> None:
    for method, path, level in route_table(harness.app):
        if level is Access.STAFF and method == "GET" and "{" not in path:
            response = staff.get(path, follow_redirects=False)
            assert response.status_code not in (401, 403), (path, response.status_code)


def test_html_request_without_session_is_sent_to_login(harness: PageHarness) -> None:
    response = harness.client().get(
        "/people", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/people&msg=login_required"
    page = harness.client().get(response.headers["location"], headers={"accept": "text/html"})
    assert "session may have expired" in page.text or "会话可能已过期" in page.text


@pytest.mark.parametrize("extra", [None, {ACCESS_KEY: "everyone"}])
def test_a_route_without_a_valid_access_level_is_closed(
    harness: PageHarness, admin: TestClient, extra: dict[str, str] | None
) -> None:
    @harness.app.get("/forgotten", openapi_extra=extra)
    def forgotten() -> dict[str, str]:
        return {"secret": "leaked"}

    for client in (harness.client(), admin):
        response = client.get("/forgotten")
        assert response.status_code == 403
        assert "leaked" not in response.text


def test_openapi_is_behind_login_and_lists_the_api(harness: PageHarness, staff: TestClient) -> None:
    assert harness.client().get("/api/openapi.json").status_code == 401
    schema = staff.get("/api/openapi.json").json()
    assert "/api/v1/people" in schema["paths"]
    assert schema["paths"]["/api/v1/people"]["get"][ACCESS_KEY] == "staff"
