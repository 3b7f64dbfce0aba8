"""The page mounted beside a real AccessService (folder camera, real models, sim door), and
the settings page's TOML writer reading back through the gateway's own loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config.loader import load_config
from provisioning.app import create_app
from provisioning.config import ProvisioningConfig
from provisioning.config_file import config_saver
from provisioning.gateway_link import deps_for_service
from tests.provisioning.conftest import ADMIN, BASE_URL, csrf
from tests.runtime.conftest import LIVE, Running, copy_frames, make_config
from tests.runtime.conftest import run_service as run_service  # the fixture

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def test_page_beside_a_running_access_service(
    tmp_path: Path,
    faces_dir: Path,
    models_mirror: Path,
    run_service: Callable[..., Running],
) -> None:
    from fastapi.testclient import TestClient

    camera = copy_frames(faces_dir, LIVE, "lestari15__real_*.jpg", tmp_path / "cam")
    config = make_config(tmp_path, models_mirror, camera, camera={"loop": True})
    running = run_service(config)
    toml_path = tmp_path / "menwei.toml"
    settings = ProvisioningConfig(photo_dir=tmp_path / "photos")
    deps = deps_for_service(running.service, settings, toml_path, similarity_threshold=0.93)
    announced: list[str] = []
    deps.announce = announced.append
    app = create_app(deps)
    client = TestClient(app, base_url=BASE_URL, headers={"accept": "application/json"})
    token = announced[0].rsplit(" ", 1)[1]
    client.post(
        "/setup",
        data={
            "csrf_token": csrf(client, "/setup"),
            "token": token,
            "username": ADMIN[0],
            "password": ADMIN[1],
            "password_again": ADMIN[1],
        },
    )
    client.post(
        "/login",
        data={"csrf_token": csrf(client, "/login"), "username": ADMIN[0], "password": ADMIN[1]},
    )
    status = client.get("/api/v1/status").json()
    assert status["door_state"] == "locked"
    checks = {c["name"]: c for c in status["checks"]}
    assert checks["models"]["ok"] and checks["door"]["ok"]
    assert running.wait_for(lambda: client.get("/camera.jpg").status_code == 200, timeout=20)
    assert client.get("/camera.jpg").content.startswith(b"\xff\xd8")
    form = {"csrf_token": csrf(client, "/settings"), "vision.liveness.enabled": "on"}
    form["vision.liveness.threshold"] = "0.7"
    assert client.post("/settings", data=form, follow_redirects=False).status_code == 303
    reread = load_config(toml_path, environ={})
    assert reread.vision.liveness.threshold == 0.7
    assert reread.store.url == config.store.url


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
