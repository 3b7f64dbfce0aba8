"""A body streamed without Content-Length is cut off at the limit too (not only announced ones)."""

from __future__ import annotations

from collections.abc import Iterator

from tests.provisioning.conftest import HarnessFactory, csrf
from tests.provisioning.test_people import create, people_count


def test_streamed_body_over_the_limit_is_refused(make_harness: HarnessFactory) -> None:
    page = make_harness(max_upload_bytes=64 * 1024)
    page.create_admin()
    client = page.login("admin", "Door-Keeper-2026!")
    create(client)
    token = csrf(client, "/people")

    def chunks() -> Iterator[bytes]:
        fields = "external_id=big&role=staff&valid_from=2026-01-01T00:00"
        yield f"csrf_token={token}&{fields}&display_name=".encode()
        for _ in range(200):
            yield b"x" * 1024

    response = client.post(
        "/people/new",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert people_count(page) == 1
