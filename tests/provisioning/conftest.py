"""Staff-page fixtures: a real store in tmp_path, the app over explicit deps, logged-in clients.

`PageHarness` builds the app, captures the one-time setup token from its announcement, creates
the first admin through the real /setup form and logs clients in through the real /login form.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.application.live_frame import LiveFrame
from gateway.application.status import GatewayStatus, HealthCheck
from gateway.config import GatewayConfig, parse_config
from gateway.config.staff_page import ProvisioningConfig
from gateway.store.store import Store, open_store
from gateway.vision.factory import (
    PipelineModels,
    build_pipeline,
    effective_thresholds,
    models_from_pack,
)
from gateway.vision.pipeline import FacePipeline
from provisioning.app import create_app
from provisioning.deps import ProvisioningDeps

ADMIN = ("admin", "Door-Keeper-2026!")
STAFF = ("guard", "Night-Shift-77x")
BASE_URL = "https://testserver"
TOKEN_RE = re.compile(r"setup token: (\S+)")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """A settable clock so session expiry and lockouts are tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def gateway_config(tmp_path: Path, models_dir: Path | None = None) -> GatewayConfig:
    key = tmp_path / "template.key"
    if not key.exists():
        key.write_text(secrets.token_hex(32))
    data: dict[str, Any] = {
        "store": {
            "url": f"sqlite:///{tmp_path / 'menwei.db'}",
            "key_file": str(key),
            "backup_dir": str(tmp_path / "backups"),
        },
        "door": {"backend": "sim"},
    }
    if models_dir is not None:
        data["models"] = {"dir": str(models_dir)}
    return parse_config(data, environ={})


@dataclass
class PageHarness:
    """One app over one store, plus helpers to drive it like a browser would."""

    deps: ProvisioningDeps
    app: FastAPI
    announced: list[str]
    clock: Clock
    saved_configs: list[GatewayConfig] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.deps.store

    def client(self, **headers: str) -> TestClient:
        return TestClient(
            self.app, base_url=BASE_URL, headers={"accept": "application/json", **headers}
        )

    def setup_token(self) -> str:
        match = TOKEN_RE.search(self.announced[-1])
        assert match, self.announced
        return match.group(1)

    def create_admin(self) -> None:
        client = self.client()
        token = csrf(client, "/setup")
        response = client.post(
            "/setup",
            data={
                "csrf_token": token,
                "token": self.setup_token(),
                "username": ADMIN[0],
                "password": ADMIN[1],
                "password_again": ADMIN[1],
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    def login(self, username: str, password: str) -> TestClient:
        client = self.client()
        response = client.post(
            "/login",
            data={"csrf_token": csrf(client, "/login"), "username": username, "password": password},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client

    def create_staff(self, admin: TestClient) -> None:
        response = admin.post(
            "/accounts",
            data={
                "csrf_token": csrf(admin, "/accounts"),
                "username": STAFF[0],
                "password": STAFF[1],
                "role": "staff",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text


def csrf(client: TestClient, path: str) -> str:
    """The CSRF token a page's forms carry (as a browser would find it)."""
    page = client.get(path, headers={"accept": "text/html"})
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token on {path}: {page.status_code} {page.text[:300]}"
    return match.group(1)


def status_ok() -> GatewayStatus:
    return GatewayStatus(
        "locked",
        (
            HealthCheck("camera", True, "25 fps"),
            HealthCheck("models", True, "default pack"),
            HealthCheck("broker", False, "not connected"),
        ),
    )


@pytest.fixture(scope="session")
def real_models(models_mirror: Path) -> tuple[FacePipeline, PipelineModels]:
    from gateway.modelhub import resolve_pack

    config = parse_config({"models": {"dir": str(models_mirror)}}, environ={})
    models = models_from_pack(resolve_pack(config.models))
    return build_pipeline(models, config.vision), models


HarnessFactory = Callable[..., PageHarness]


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[HarnessFactory]:
    stores: list[Store] = []

    def make(
        *,
        pipeline: FacePipeline | None = None,
        models: PipelineModels | None = None,
        frame: LiveFrame | None = None,
        **settings: Any,
    ) -> PageHarness:
        config = gateway_config(tmp_path)
        store = open_store(config.store, environ={})
        stores.append(store)
        announced: list[str] = []
        clock = Clock()
        provisioning = ProvisioningConfig(
            photo_dir=tmp_path / "photos",
            tls_cert=tmp_path / "tls" / "cert.pem",
            tls_key=tmp_path / "tls" / "key.pem",
            **settings,
        )
        saved: list[GatewayConfig] = []
        deps = ProvisioningDeps(
            store=store,
            gateway_config=config,
            settings=provisioning,
            pipeline=pipeline,
            models=models,
            similarity_threshold=(
                effective_thresholds(models, config.vision)[0] if models is not None else 0.9
            ),
            status_provider=status_ok,
            frame_provider=lambda: frame,
            save_config=saved.append,
            clock=clock,
            announce=announced.append,
        )
        app = create_app(deps)
        return PageHarness(deps, app, announced, clock, saved)

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def harness(make_harness: HarnessFactory) -> PageHarness:
    """An app with its first admin created (no models)."""
    page = make_harness()
    page.create_admin()
    return page


@pytest.fixture
def admin(harness: PageHarness) -> TestClient:
    return harness.login(*ADMIN)


@pytest.fixture
def staff(harness: PageHarness, admin: TestClient) -> TestClient:
    harness.create_staff(admin)
    return harness.login(*STAFF)
