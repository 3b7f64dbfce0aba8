"""menwei doctor: each check on real inputs (sockets, TLS, SQLite files, folders), and the CLI."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from firmware_bridge.config import DoorConfig
from gateway.config import GatewayConfig, parse_config
from gateway.config.camera import CameraConfig
from gateway.config.model import ModelsConfig
from gateway.config.store import StoreConfig
from gateway.ops import cli as ops_cli
from gateway.ops.doctor import broker_target, render_json, render_text, run_doctor
from gateway.ops.doctor_checks import (
    CheckResult,
    Status,
    check_broker,
    check_camera,
    check_clock,
    check_disk,
    check_door,
    check_models,
    check_sqlite_integrity,
    check_store_key,
)
from gateway.ops.paths import data_folder
from gateway.store.crypto import generate_key_file
from gateway.store.store import open_store
from tests.ops.tls_server import TlsServer, self_signed

MB = 1024 * 1024


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[TlsServer, Path]]:
    cert, key = self_signed(tmp_path)
    server = TlsServer(cert, key)
    yield server, cert
    server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_broker_closed_port_fails_with_a_fix() -> None:
    result = check_broker("127.0.0.1", free_port(), tls=True, timeout_s=2.0)
    assert result.status is Status.FAIL and "TCP connect failed" in result.detail
    assert result.fix and "firewall" in result.fix


def test_broker_without_tls_warns(tls_server: tuple[TlsServer, Path]) -> None:
    server, _cert = tls_server
    result = check_broker("127.0.0.1", server.port, tls=False)
    assert result.status is Status.WARN


def test_broker_untrusted_certificate_fails(tls_server: tuple[TlsServer, Path]) -> None:
    server, _cert = tls_server
    result = check_broker("127.0.0.1", server.port, tls=True)
    assert result.status is Status.FAIL and "not trusted" in result.detail
    assert result.fix and "CA certificate" in result.fix


def test_broker_tls_handshake_with_the_station_ca(tls_server: tuple[TlsServer, Path]) -> None:
    server, cert = tls_server
    result = check_broker("127.0.0.1", server.port, tls=True, ca_file=cert)
    assert result.status is Status.OK, result.detail
    assert str(result.data["tls_version"]).startswith("TLS")
    wrong_name = check_broker(
        "127.0.0.1", server.port, tls=True, ca_file=cert, server_hostname="broker.example"
    )
    assert wrong_name.status is Status.FAIL


def test_broker_plain_listener_is_not_a_tls_endpoint() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        # the kernel completes the TCP handshake; nobody answers the ClientHello: short timeout
        result = check_broker("127.0.0.1", port, tls=True, timeout_s=0.5)
    finally:
        listener.close()
    assert result.status is Status.FAIL and "TLS handshake failed" in result.detail


def test_broker_target_reads_the_station_table() -> None:
    assert broker_target(parse_config({}, environ={})) is None
    config = cast(
        GatewayConfig,
        SimpleNamespace(station=SimpleNamespace(host="mqtt.station", port=8883, tls=True)),
    )
    target = broker_target(config)
    assert target is not None and (target.host, target.port, target.tls) == (
        "mqtt.station",
        8883,
        True,
    )
    disabled = SimpleNamespace(station=SimpleNamespace(enabled=False, host="mqtt.station"))
    assert broker_target(cast(GatewayConfig, disabled)) is None


def completed(stdout: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], code, stdout, "")


def test_clock_from_timedatectl_then_chrony_then_unknown() -> None:
    only = {"timedatectl"}
    synced = check_clock(
        lambda _cmd: completed("yes\n"), lambda name: name if name in only else None
    )
    assert synced.status is Status.OK
    unsynced = check_clock(lambda _cmd: completed("no\n"), lambda n: n if n in only else None)
    assert unsynced.status is Status.FAIL and unsynced.fix
    chrony_out = "Reference ID : 1.2.3.4\nLeap status     : Normal\n"
    chrony = check_clock(
        lambda _cmd: completed(chrony_out), lambda n: n if n == "chronyc" else None
    )
    assert chrony.status is Status.OK
    bad = "Leap status     : Not synchronised\n"
    assert check_clock(lambda _c: completed(bad), lambda n: n).status is Status.FAIL
    unknown = check_clock(lambda _c: completed(""), lambda _n: None)
    assert unknown.status is Status.UNKNOWN


def test_disk_floor() -> None:
    path = Path("/data")
    assert check_disk(path, 512 * MB, lambda _p: 2048 * MB).status is Status.OK
    assert check_disk(path, 512 * MB, lambda _p: 700 * MB).status is Status.WARN
    low = check_disk(path, 512 * MB, lambda _p: 100 * MB)
    assert low.status is Status.FAIL and "100 MB free" in low.detail and low.fix


def make_store(tmp_path: Path) -> StoreConfig:
    key = tmp_path / "template.key"
    generate_key_file(key)
    config = StoreConfig(
        url=f"sqlite:///{tmp_path / 'menwei.db'}", key_file=key, backup_dir=tmp_path / "backups"
    )
    open_store(config, environ={}).close()
    return config


def test_database_integrity_on_real_and_damaged_files(tmp_path: Path) -> None:
    make_store(tmp_path)
    database = tmp_path / "menwei.db"
    assert check_sqlite_integrity(database).status is Status.OK
    assert check_sqlite_integrity(database, full=True).detail.endswith("integrity_check ok")
    assert check_sqlite_integrity(tmp_path / "absent.db").status is Status.WARN
    assert check_sqlite_integrity(None).status is Status.UNKNOWN
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    broken = check_sqlite_integrity(garbage)
    assert broken.status is Status.FAIL and broken.fix and "backup" in broken.fix


def test_database_with_damaged_pages_fails(tmp_path: Path) -> None:
    make_store(tmp_path)
    database = tmp_path / "menwei.db"
    data = bytearray(database.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) >= 4 * page
    data[2 * page : 4 * page] = b"\x0d" * (2 * page)  # smash two b-tree pages
    database.write_bytes(bytes(data))
    assert check_sqlite_integrity(database).status is Status.FAIL


def test_store_key(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert check_store_key(store, {}, tmp_path).status is Status.OK
    credential = StoreConfig(url=store.url, key_credential="menwei-template-key")
    missing = check_store_key(credential, {}, tmp_path / "credstore")
    assert missing.status is Status.FAIL and missing.fix
    (tmp_path / "credstore").mkdir()
    generate_key_file(tmp_path / "credstore" / "menwei-template-key")
    assert check_store_key(credential, {}, tmp_path / "credstore").status is Status.OK
    assert check_store_key(StoreConfig(), {}, tmp_path).status is Status.WARN


def test_door_checks(tmp_path: Path) -> None:
    assert check_door(DoorConfig()).status is Status.OK
    gpio = check_door(DoorConfig(backend="gpiod", gpiod={"chip": str(tmp_path / "gpiochip9")}))
    assert (
        gpio.status is Status.FAIL and "does not exist" in gpio.detail and "gpio" in str(gpio.fix)
    )
    port = tmp_path / "ttyFAKE"
    port.write_bytes(b"")
    serial = check_door(DoorConfig(backend="mcu", mcu={"port": str(port)}))
    assert serial.status is Status.OK


def test_door_device_without_permission_fails(tmp_path: Path) -> None:
    port = tmp_path / "ttyFAKE"
    port.write_bytes(b"")
    port.chmod(0)
    if check_door(DoorConfig(backend="mcu", mcu={"port": str(port)})).status is Status.OK:
        pytest.skip("running as root: file permissions do not apply")
    assert check_door(DoorConfig(backend="mcu", mcu={"port": str(port)})).status is Status.FAIL


def test_camera_folder_ok_and_empty_folder_fails(tmp_path: Path) -> None:
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        cv2.imwrite(str(frames / f"{index}.jpg"), np.full((48, 64, 3), 80 * index, np.uint8))
    good = check_camera(CameraConfig(source=str(frames), kind="folder"))
    assert good.status is Status.OK and "64x48" in good.detail
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = check_camera(CameraConfig(source=str(empty), kind="folder"))
    assert bad.status is Status.FAIL and bad.fix


def test_models_missing_tells_how_to_fetch(tmp_path: Path) -> None:
    result = check_models(ModelsConfig(dir=tmp_path / "models"))
    assert result.status is Status.FAIL
    assert result.fix and "menwei models fetch" in result.fix


@pytest.mark.shared
def test_models_verified_from_the_shared_mirror(models_mirror: Path) -> None:
    result = check_models(ModelsConfig(dir=models_mirror))
    assert result.status is Status.OK, result.detail


def test_a_crashing_check_is_reported_not_raised(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    config = parse_config(
        {"store": store.model_dump(mode="json"), "camera": {"source": str(tmp_path)}}, environ={}
    )
    object.__setattr__(config, "camera", None)  # makes check_camera raise inside doctor
    results = run_doctor(config, skip=("models", "clock"), environ={})
    camera = next(result for result in results if result.name == "camera")
    assert camera.status is Status.FAIL and "crashed" in camera.detail
    assert [result.name for result in results] == [
        "camera",
        "door",
        "disk",
        "database",
        "store key",
    ]
    assert data_folder(config) == tmp_path


def test_render_text_and_json() -> None:
    results = [
        CheckResult("disk", Status.OK, "fine"),
        CheckResult("clock", Status.FAIL, "off", "enable NTP"),
    ]
    text = render_text(results)
    assert "[FAIL] clock: off" in text and "fix: enable NTP" in text and "1 failed" in text
    document = json.loads(render_json(results))
    assert document["ok"] is False
    assert document["checks"][1] == {
        "name": "clock",
        "status": "fail",
        "detail": "off",
        "fix": "enable NTP",
        "data": {},
    }


def write_config(tmp_path: Path) -> Path:
    store = make_store(tmp_path)
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    cv2.imwrite(str(frames / "a.jpg"), np.zeros((48, 64, 3), np.uint8))
    path = tmp_path / "menwei.toml"
    path.write_text(
        f"""
[models]
dir = "{tmp_path / "models"}"
[camera]
source = "{frames}"
kind = "folder"
[store]
url = "{store.url}"
key_file = "{store.key_file}"
backup_dir = "{store.backup_dir}"
""",
        encoding="utf-8",
    )
    return path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="menwei")
    ops_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    args = parse(["doctor", "--config", str(config), "--json", "--skip", "clock"])
    assert args.func(args) == 1  # models are missing
    document = json.loads(capsys.readouterr().out)
    statuses = {check["name"]: check["status"] for check in document["checks"]}
    assert statuses == {
        "camera": "ok",
        "models": "fail",
        "door": "ok",
        "disk": statuses["disk"],
        "database": "ok",
        "store key": "ok",
    }
    args = parse(["doctor", "--config", str(config), "--skip", "clock", "--skip", "models"])
    code = args.func(args)
    out = capsys.readouterr().out
    assert ("[FAIL] disk" in out) == (code == 1)
    assert "[ OK ] camera" in out


def test_cli_config_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[nope]\n", encoding="utf-8")
    args = parse(["doctor", "--config", str(bad)])
    assert args.func(args) == 2
    assert "unknown key" in capsys.readouterr().out
