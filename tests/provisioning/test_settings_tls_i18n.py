"""Settings validated by GatewayConfig and audited; TLS certificate handling; both languages."""

from __future__ import annotations

import stat
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.config.model import GatewayConfig
from gateway.store.schema_events import AuditEntry
from provisioning.i18n import MESSAGES
from provisioning.settings_form import apply_settings, setting_fields
from provisioning.tls import ensure_certificate
from tests.provisioning.conftest import PageHarness, csrf

HTML = {"accept": "text/html"}


def settings_form(client: TestClient, **changes: str) -> dict[str, str]:
    page = client.get("/settings", headers=HTML).text
    assert "vision.liveness.threshold" in page
    form = {"csrf_token": csrf(client, "/settings"), "vision.liveness.enabled": "on"}
    form.update(changes)
    return form


def test_settings_change_is_validated_saved_applied_per_field_and_audited(
    harness: PageHarness, admin: TestClient
) -> None:
    running = harness.deps.changes.running
    threshold_before = running.vision.liveness.threshold
    form = settings_form(admin, **{"vision.liveness.threshold": "0.75", "door.unlock_ms": "4000"})
    response = admin.post("/settings", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/settings?msg=settings_saved"  # one needs a restart
    [saved] = harness.saved_configs
    assert saved.vision.liveness.threshold == 0.75 and saved.door.unlock_ms == 4000
    assert harness.deps.gateway_config.vision.liveness.threshold == 0.75  # the page shows the file
    assert running.door.unlock_ms == 4000  # live: the door controller reads it per release
    assert running.vision.liveness.threshold == threshold_before  # restart: built in at start
    with harness.store.sessions.reading() as session:
        targets = set(
            session.scalars(select(AuditEntry.target).where(AuditEntry.action == "change_setting"))
        )
    assert targets == {"vision.liveness.threshold (restart)", "door.unlock_ms (live)"}


def test_invalid_settings_are_refused_by_the_config_model(
    harness: PageHarness, admin: TestClient
) -> None:
    before = harness.deps.gateway_config.model_copy(deep=True)
    for bad in (
        {"vision.liveness.threshold": "1.5"},
        {"door.lock_type": "open_always"},
        {"door.unlock_ms": "soon"},
    ):
        response = admin.post("/settings", data=settings_form(admin, **bad), headers=HTML)
        assert response.status_code == 400, bad
        assert next(iter(bad)) in response.text
    assert harness.saved_configs == []
    assert harness.deps.gateway_config == before


def test_settings_show_descriptions_and_choices(admin: TestClient) -> None:
    page = admin.get("/settings", headers=HTML).text
    assert "door.lock_type" in page and "fail_secure" in page and "fail_safe" in page
    assert "Minimum fused" in page  # the field's own description from the config model


def test_self_signed_certificate_is_generated_once_with_a_private_key(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    assert ensure_certificate(cert, key, ["menwei.local", "192.168.1.20"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = cert.read_bytes()
    assert not ensure_certificate(cert, key, ["menwei.local"])
    assert cert.read_bytes() == first


def test_uploaded_certificate_must_match_its_key(
    harness: PageHarness, admin: TestClient, tmp_path: Path
) -> None:
    a_cert, a_key = tmp_path / "a" / "cert.pem", tmp_path / "a" / "key.pem"
    b_cert, b_key = tmp_path / "b" / "cert.pem", tmp_path / "b" / "key.pem"
    ensure_certificate(a_cert, a_key, ["a.local"])
    ensure_certificate(b_cert, b_key, ["b.local"])
    token = csrf(admin, "/settings")

    def upload(cert: Path, key: Path) -> int:
        files = {
            "certificate": ("cert.pem", cert.read_bytes()),
            "private_key": ("key.pem", key.read_bytes()),
        }
        response = admin.post(
            "/settings/tls", data={"csrf_token": token}, files=files, follow_redirects=False
        )
        return response.status_code

    assert upload(a_cert, b_key) == 400
    assert not harness.deps.settings.tls_cert.exists()
    assert upload(a_cert, a_key) == 303
    assert harness.deps.settings.tls_cert.read_bytes() == a_cert.read_bytes()


def test_every_text_exists_in_both_languages() -> None:
    for key, (english, chinese) in MESSAGES.items():
        assert english.strip() and chinese.strip(), key
        assert english.count("{") == chinese.count("{"), key


def test_language_follows_the_browser_and_can_be_switched(harness: PageHarness) -> None:
    client = harness.client()
    chinese = client.get("/login", headers={"accept": "text/html", "accept-language": "zh-CN"})
    assert "登录" in chinese.text and 'lang="zh-CN"' in chinese.text
    english = client.get("/login", headers={"accept": "text/html", "accept-language": "en-US"})
    assert "Log in" in english.text and 'lang="en"' in english.text
    switched = client.get("/lang/en", params={"back": "/login"}, follow_redirects=False)
    assert switched.headers["location"] == "/login"
    again = client.get("/login", headers={"accept": "text/html", "accept-language": "zh-CN"})
    assert "Log in" in again.text
    assert client.get("/lang/fr").status_code == 404
    for hostile in ("//evil.example", "/\\evil.example", "https://evil.example", "/\tx"):
        outside = client.get("/lang/en", params={"back": hostile}, follow_redirects=False)
        assert outside.headers["location"] == "/", hostile
    login = client.get(
        "/login", params={"next": "/\\evil.example"}, headers={"accept": "text/html"}
    )
    assert 'name="next" value="/"' in login.text


def test_station_settings_appear_and_are_validated() -> None:
    config = GatewayConfig()
    paths = [f.path for f in setting_fields(config, None)]
    assert "station.host" in paths and "station.port" in paths
    changed_config, changed, errors = apply_settings(
        config,
        {"station.host": "broker.lan", "station.port": "8884", "vision.liveness.enabled": "on"},
    )
    assert errors == [] and changed == ["station.host", "station.port"]
    assert isinstance(changed_config, GatewayConfig)
    assert changed_config.station.host == "broker.lan" and changed_config.station.port == 8884
    refused, _changed, errors = apply_settings(
        config, {"station.port": "70000", "vision.liveness.enabled": "on"}
    )
    assert refused is None and any("station.port" in e for e in errors)


def test_the_page_own_settings_apply_at_once(harness: PageHarness, admin: TestClient) -> None:
    own = harness.deps.settings
    harness.deps.gateway_config = harness.deps.gateway_config.model_copy(
        update={"provisioning": own}
    )
    form = settings_form(admin, **{"provisioning.keep_photos": "on"})
    form["provisioning.lockout_failures"] = "3"
    assert admin.post("/settings", data=form, follow_redirects=False).status_code == 303
    assert harness.deps.settings.keep_photos is True
    assert harness.app.state.context.auth.settings.lockout_failures == 3
    assert harness.deps.settings.photo_dir == own.photo_dir
