"""scripts/install.sh (dry run, shellcheck) and scripts/check_aarch64_wheels.sh."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
SYSTEM_COMMANDS = (
    "apt-get",
    "systemd-sysusers",
    "systemd-tmpfiles",
    "systemctl",
    "udevadm",
    "install",
    "chown",
    "chmod",
    "mv",
    "python3",
)


@pytest.mark.parametrize("script", ["install.sh", "check_aarch64_wheels.sh"])
def test_shellcheck_clean(script: str) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("SHELLCHECK NOT INSTALLED (apt-get install -y shellcheck)")
    result = subprocess.run(
        [shellcheck, str(SCRIPTS / script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout


def dry_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run install.sh --dry-run with every system-changing command replaced by a recorder."""
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    calls = tmp_path / "calls.log"
    for name in SYSTEM_COMMANDS:
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\nexit 1\n')
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(SCRIPTS / "install.sh"), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return result, calls


def test_install_dry_run_changes_nothing_and_shows_every_step(tmp_path: Path) -> None:
    result, calls = dry_run(
        tmp_path, "--door", "mcu", "--serial", "/dev/ttyACM0", "--models-from", "/srv/mirror"
    )
    assert result.returncode == 0, result.stderr
    assert not calls.exists(), f"dry run executed: {calls.read_text()}"
    out = result.stdout
    for step in range(1, 9):
        assert f"==> {step}. " in out
    sysusers = out.split("write /usr/lib/sysusers.d/menwei.conf", 1)[1].split("+ write", 1)[0]
    assert "| m menwei dialout" in sysusers and "| m menwei gpio" not in sysusers
    assert "| m menwei video" in sysusers
    assert "write /etc/systemd/system/menwei.service.d/devices.conf" in out
    assert "| DeviceAllow=/dev/ttyACM0 rw" in out
    config = out.split("write /etc/menwei/menwei.toml (mode 0640, owner root:menwei)", 1)[1]
    assert '| backend = "mcu"' in config and '| port = "/dev/ttyACM0"' in config
    assert "/etc/menwei/credstore/menwei-template-key" in out
    assert "menwei models fetch --config /etc/menwei/menwei.toml" in out
    assert "--from /srv/mirror" in out


def test_install_sim_door_needs_no_device_group(tmp_path: Path) -> None:
    result, calls = dry_run(tmp_path, "--door", "sim")
    assert result.returncode == 0, result.stderr
    assert not calls.exists()
    sysusers = result.stdout.split("write /usr/lib/sysusers.d/menwei.conf", 1)[1]
    sysusers = sysusers.split("+ write", 1)[0]
    assert "| m menwei gpio" not in sysusers and "| m menwei dialout" not in sysusers


def test_install_rejects_bad_arguments(tmp_path: Path) -> None:
    result, _calls = dry_run(tmp_path, "--door", "relay")
    assert result.returncode == 1 and "--door must be" in result.stderr
    result, _calls = dry_run(tmp_path, "--frobnicate")
    assert result.returncode == 1 and "unknown option" in result.stderr


def run_wheel_check(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / "check_aarch64_wheels.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHON": sys.executable},
    )


def test_wheel_check_reports_an_unreachable_index() -> None:
    result = run_wheel_check("--index-url", "http://127.0.0.1:9/simple", timeout=60)
    assert result.returncode == 2 and "INDEX UNREACHABLE" in result.stderr


@pytest.mark.slow
def test_every_runtime_dependency_has_an_aarch64_wheel(tmp_path: Path) -> None:
    result = run_wheel_check("--keep", str(tmp_path / "wheels"))
    if result.returncode == 2:
        pytest.skip("PYPI UNREACHABLE: " + result.stderr.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = [path.name for path in (tmp_path / "wheels").glob("*.whl")]
    assert any(name.startswith("onnxruntime-") and "aarch64" in name for name in wheels)
    assert any(name.startswith("insightface-") for name in wheels)
