"""The systemd units: `systemd-analyze verify`, sysusers/tmpfiles dry runs, and the settings the
appliance depends on (notify, watchdog, restart limits, hardening, credentials)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
INSTALLED_EXEC = "/opt/menwei/venv/bin/menwei"


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary.upper()} NOT INSTALLED: cannot check the systemd units with it")
    return path


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _sep, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_service_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require("systemd-analyze")
    # The venv lives under /opt/menwei only on an installed box: point ExecStart at a binary
    # that exists here, verify everything else as shipped.
    text = (SYSTEMD / "menwei.service").read_text(encoding="utf-8")
    assert INSTALLED_EXEC in text
    unit = tmp_path / "menwei.service"
    unit.write_text(text.replace(INSTALLED_EXEC, shutil.which("true") or "/bin/true"))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "menwei.service" not in result.stderr, result.stderr  # no warnings about our unit


def test_service_settings_the_appliance_relies_on() -> None:
    settings = unit_settings(SYSTEMD / "menwei.service")
    single = {key: values[-1] for key, values in settings.items()}
    assert single["Type"] == "notify"
    assert int(single["WatchdogSec"]) > 0
    assert single["Restart"] == "always"
    assert int(single["StartLimitBurst"]) >= 1 and int(single["StartLimitIntervalSec"]) > 0
    assert single["User"] == "menwei"
    assert single["StateDirectory"] == "menwei" and single["LogsDirectory"] == "menwei"
    assert single["ProtectSystem"] == "strict" and single["ProtectHome"] == "yes"
    assert single["NoNewPrivileges"] == "yes" and single["PrivateTmp"] == "yes"
    assert single["CapabilityBoundingSet"] == ""
    assert single["DevicePolicy"] == "closed"
    assert sorted(value.split()[0] for value in settings["DeviceAllow"]) == [
        "/dev/gpiochip0",
        "/dev/serial0",
        "/dev/video0",
    ]
    assert single["LoadCredential"].startswith("menwei-template-key:/etc/menwei/credstore/")
    assert "--config /etc/menwei/menwei.toml" in single["ExecStart"]


def test_security_exposure_is_low(tmp_path: Path) -> None:
    analyze = require("systemd-analyze")
    unit = tmp_path / "menwei.service"
    unit.write_text((SYSTEMD / "menwei.service").read_text(encoding="utf-8"))
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=30", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("SYSTEMD-ANALYZE TOO OLD for security --offline")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_sysusers_creates_the_user_and_its_device_groups(tmp_path: Path) -> None:
    sysusers = require("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", "--dry-run", str(SYSTEMD / "menwei.sysusers.conf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Creating user 'menwei'" in output
    for group in ("video", "gpio", "dialout"):
        assert f"group '{group}'" in output
    assert "ignoring" not in output.lower(), output


def test_tmpfiles_make_a_root_only_credstore(tmp_path: Path) -> None:
    tmpfiles = require("systemd-tmpfiles")
    if os.geteuid() != 0:
        pytest.skip("NOT ROOT: systemd-tmpfiles --create would fail to chown to root")
    result = subprocess.run(
        [tmpfiles, f"--root={tmp_path}", "--create", str(SYSTEMD / "menwei.tmpfiles.conf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "etc/menwei/credstore").stat().st_mode & 0o777 == 0o700
