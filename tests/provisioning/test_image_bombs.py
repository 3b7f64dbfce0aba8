"""Image bombs uploaded for enrolment to a real `menwei run`, with a staff session (issue 12.7).

Three ~2 MB PNGs of 16000x16000 16-bit RGBA (2 GB each once decoded) took the gateway to 5.6 GB
and froze the page for 55 s; a JPEG can declare a huge frame in a few bytes. Each must be refused
from its header with a clear 4xx before anything is decoded, the gateway's memory must stay flat,
and the page must keep answering other requests while the uploads are handled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.provisioning.gateway_process import (
    MB,
    GatewayProcess,
    PeakRss,
    jpeg_declaring,
    png_bomb,
    sign_in_admin,
    start_gateway,
)

pytestmark = [pytest.mark.shared, pytest.mark.slow]

RSS_BOUND = 96 * MB  # three 2 MB uploads in flight; decoding one bomb would add 1-2 GB
BOMBS = {
    "png-16000x16000-rgba16": lambda: png_bomb(16000, 16000),
    "jpeg-declaring-20000x20000": lambda: jpeg_declaring(20000, 20000),
}


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, models_mirror: Path
) -> Iterator[GatewayProcess]:
    process = start_gateway(tmp_path_factory.mktemp("gateway"), models_mirror)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def enrolment(gateway: GatewayProcess) -> Iterator[tuple[httpx.Client, str, int]]:
    """A signed-in client, its CSRF token, and a person with a card (ready for a face)."""
    client, csrf = sign_in_admin(gateway)
    headers = {"x-csrf-token": csrf}
    person = client.post(
        "/api/v1/people",
        json={
            "external_id": "r101",
            "role": "owner",
            "unit_number": "1",
            "room_number": "101",
            "valid_from": "2026-01-01T00:00",
        },
        headers=headers,
    )
    assert person.status_code == 201, person.text
    person_id = int(person.json()["id"])
    card = client.post(
        f"/api/v1/people/{person_id}/cards", json={"facility": 1, "number": 1001}, headers=headers
    )
    assert card.status_code == 201, card.text
    yield client, csrf, person_id
    client.close()


def upload(
    client: httpx.Client, csrf: str, person_id: int, name: str, data: bytes
) -> httpx.Response:
    return client.post(
        f"/api/v1/people/{person_id}/face-templates",
        data={"consent": "true", "consent_text_version": "2026-01"},
        files=[("photos", (name, data, "image/png"))],
        headers={"x-csrf-token": csrf},
    )


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_image_bomb_is_refused_before_decoding(
    gateway: GatewayProcess, enrolment: tuple[httpx.Client, str, int], bomb: str
) -> None:
    client, csrf, person_id = enrolment
    data = BOMBS[bomb]()
    assert len(data) < 3 * MB
    baseline = gateway.rss_bytes()
    waits: list[float] = []
    with PeakRss(gateway) as rss, ThreadPoolExecutor(3) as pool:
        uploads = [pool.submit(upload, client, csrf, person_id, bomb, data) for _ in range(3)]
        with gateway.client() as other:  # another request, served while the uploads run
            while not all(u.done() for u in uploads) or not waits:
                started = time.monotonic()
                assert other.get("/healthz").status_code == 200
                waits.append(time.monotonic() - started)
        answers = [u.result() for u in uploads]
    for answer in answers:
        assert answer.status_code == 422, answer.text[:300]
        assert answer.json()["detail"] == "photo_too_large"
        assert "50" in answer.json()["message"]  # the limit is in the message
    growth = rss.peak - baseline
    assert growth < RSS_BOUND, f"RSS grew {growth / MB:.0f} MB while refusing {bomb}"
    assert max(waits) < 10, f"the page stalled {max(waits):.1f} s during the uploads"
    checks = client.get("/api/v1/status").json()["checks"]
    counted = next(c for c in checks if c["name"] == "staff page")["detail"]
    assert "photo_too_large" in counted
