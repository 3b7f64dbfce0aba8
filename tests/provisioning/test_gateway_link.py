"""The page mounted beside a real AccessService (folder camera, real models, sim door), and
the settings page's TOML writer reading back through the gateway's own loader."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway.config.loader import load_config
from gateway.config.staff_page import ProvisioningConfig
from provisioning.config_file import config_saver
from provisioning.gateway_link import serve_beside
from tests.provisioning.conftest import ADMIN, csrf
from tests.runtime.conftest import (
    DEFAULT_PACK_SITE_MATCH,
    LIVE,
    Running,
    copy_frames,
    make_config,
)
from tests.runtime.conftest import run_service as run_service  # the fixture

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_enrolled_on_the_page_then_granted_by_the_running_door(
    tmp_path: Path,
    faces_dir: Path,
    models_mirror: Path,
    run_service: Callable[..., Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = sorted((faces_dir / LIVE).glob("lestari15__real_*.jpg"))
    camera = copy_frames(faces_dir, LIVE, "lestari15__real_*.jpg", tmp_path / "cam", skip=1)
    config = make_config(
        tmp_path,
        models_mirror,
        camera,
        camera={"loop": True},
        vision={"match": DEFAULT_PACK_SITE_MATCH},  # see tests/runtime/conftest.py
    )
    running = run_service(config)
    toml_path = tmp_path / "menwei.toml"
    settings = ProvisioningConfig(
        bind="127.0.0.1",
        port=free_port(),
        tls_cert=tmp_path / "tls" / "cert.pem",
        tls_key=tmp_path / "tls" / "key.pem",
        photo_dir=tmp_path / "photos",
    )
    with caplog.at_level(logging.WARNING, logger="menwei.setup"):
        server = serve_beside(running.service.application, settings, toml_path)
    assert server is not None
    try:
        base = f"https://127.0.0.1:{settings.port}"
        client = httpx.Client(base_url=base, verify=False, headers={"accept": "application/json"})
        token = next(r.message for r in caplog.records if "setup token" in r.message)
        client.post(
            "/setup",
            data={
                "csrf_token": csrf(client, "/setup"),
                "token": token.rsplit(" ", 1)[1],
                "username": ADMIN[0],
                "password": ADMIN[1],
                "password_again": ADMIN[1],
            },
        )
        login = client.post("/api/v1/session", json={"username": ADMIN[0], "password": ADMIN[1]})
        headers = {"x-csrf-token": login.json()["csrf_token"]}
        status = client.get("/api/v1/status").json()
        assert status["door_state"] == "locked"
        checks = {c["name"]: c for c in status["checks"]}
        assert checks["models"]["ok"] and checks["door"]["ok"]
        assert running.wait_for(lambda: client.get("/camera.jpg").status_code == 200, 20)
        # a resident enrolled on the page is granted by the door that is already running
        person = client.post(
            "/api/v1/people",
            json={
                "external_id": "lestari",
                "role": "owner",
                "unit_number": "1",
                "room_number": "101",
                "valid_from": "2020-01-01T00:00:00Z",
            },
            headers=headers,
        ).json()
        path = f"/people/{person['id']}"
        client.post(
            f"/api{path.replace('/people', '/v1/people')}/cards",
            json={"facility": 1, "number": 7},
            headers=headers,
        )
        review = client.post(
            f"{path}/enrol",
            data={"csrf_token": headers["x-csrf-token"], "consent": "on", "source": "upload"},
            files=[("photos", ("a.jpg", frames[0].read_bytes(), "image/jpeg"))],
        )
        key = re.search(r'name="key" value="([^"]+)"', review.text)
        assert key, review.text[:300]
        saved = client.post(
            f"{path}/enrol/save",
            data={"csrf_token": headers["x-csrf-token"], "key": key.group(1)},
        )
        assert saved.status_code in (200, 303)
        recogniser = running.service.recogniser
        assert recogniser is not None
        assert str(person["id"]) in recogniser.residents.identities
        assert running.wait_for(
            lambda: any(d.granted and d.person_id == person["id"] for d in running.decisions)
        )
        form = {"csrf_token": csrf(client, "/settings"), "vision.liveness.enabled": "on"}
        form["vision.liveness.threshold"] = "0.7"
        assert client.post("/settings", data=form).status_code in (200, 303)
        reread = load_config(toml_path, environ={})
        assert reread.vision.liveness.threshold == 0.7
        assert reread.store.url == config.store.url
    finally:
        server.stop()


def test_config_writer_round_trips_and_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "menwei.toml"
    path.write_text('[site]\nname = "旧楼"\n', encoding="utf-8")
    config = load_config(path, environ={})
    changed = config.model_copy(deep=True)
    changed.site.name = 'Building "A" \\ 东'
    changed.door.unlock_ms = 4500
    config_saver(path)(changed)
    assert load_config(path, environ={}) == changed
    assert "旧楼" in (tmp_path / "menwei.toml.bak").read_text(encoding="utf-8")
