"""`menwei doctor` on the station broker's mosquitto config (issue 12.13): the shipped delivery
settings pass; mosquitto's defaults (a 1000-message queue that drops events it acknowledged, no
persistence) fail with the fix; include_dir files count, and the CLI takes --broker-config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.ops.doctor_checks import Status, check_broker_config
from tests.ops.test_doctor import parse, write_config

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "docs" / "mosquitto-station.conf"
MIB = 1024 * 1024


def check(path: Path) -> Status:
    return check_broker_config(path, needed_queue=100_000, max_command_bytes=16 * MIB).status


def test_the_shipped_station_config_passes() -> None:
    result = check_broker_config(SHIPPED, needed_queue=100_000, max_command_bytes=16 * MIB)
    assert result.status is Status.OK, result.detail
    assert result.data["max_queued_messages"] == 1_000_000


def test_mosquitto_defaults_fail_with_the_fix(tmp_path: Path) -> None:
    plain = tmp_path / "mosquitto.conf"
    plain.write_text("listener 8883\ncafile /etc/ca.pem\n")
    result = check_broker_config(plain, needed_queue=100_000, max_command_bytes=16 * MIB)
    assert result.status is Status.FAIL
    assert "max_queued_messages 1000" in result.detail and "persistence is off" in result.detail
    assert result.fix is not None and "mosquitto-station.conf" in result.fix


def test_settings_from_include_dir_count_and_the_last_one_wins(tmp_path: Path) -> None:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "menwei-station.conf").write_text(SHIPPED.read_text())
    main = tmp_path / "mosquitto.conf"
    main.write_text(f"max_queued_messages 500\ninclude_dir {conf_d}\n")
    assert check(main) is Status.OK
    (conf_d / "zz-local.conf").write_text("max_queued_messages 5000  # too small\n")
    assert check(main) is Status.FAIL
    (conf_d / "zz-local.conf").write_text("max_inflight_messages 20\nautosave_interval 1800\n")
    assert check(main) is Status.WARN


def test_an_unreadable_config_fails(tmp_path: Path) -> None:
    assert check(tmp_path / "missing.conf") is Status.FAIL


def test_cli_checks_the_given_broker_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    plain = tmp_path / "mosquitto.conf"
    plain.write_text("persistence true\n")
    skip = ["--skip", "clock", "--skip", "models", "--skip", "camera", "--skip", "disk"]
    given = ["--broker-config", str(plain)]
    args = parse(["doctor", "--config", str(config), "--json", *skip, *given])
    assert args.func(args) == 1
    statuses = {c["name"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert statuses["broker config"] == "fail"
    args = parse(["doctor", "--config", str(config), *skip, "--broker-config", str(SHIPPED)])
    assert args.func(args) == 0
    assert "[ OK ] broker config" in capsys.readouterr().out
