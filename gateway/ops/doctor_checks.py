"""The individual `menwei doctor` checks: each returns a CheckResult and never raises.

Every check takes the pieces it needs explicitly (a config table, a path, a host) so it can be
run and tested on its own; `gateway.ops.doctor` decides which ones run for a configuration.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from firmware_bridge.config import DoorConfig
from gateway.config.camera import CameraConfig
from gateway.config.model import ModelsConfig
from gateway.config.store import StoreConfig

CommandRunner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works now, needs attention
    FAIL = "fail"  # the gateway cannot do its job: exit code non-zero
    UNKNOWN = "unknown"  # could not be determined here (not a failure)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; `fix` tells the technician what to do when it is not ok."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    data: Mapping[str, object] = field(default_factory=dict)


def check_camera(config: CameraConfig) -> CheckResult:
    from gateway.camera.probe import probe_camera  # OpenCV: imported only when checked

    report = probe_camera(config)
    data = {"kind": report.kind, "source": report.source, "frames": report.frames}
    if report.ok:
        fps = f", {report.measured_fps:.1f} fps" if report.measured_fps else ""
        return CheckResult(
            "camera",
            Status.OK,
            f"{report.kind} {report.source}: {report.width}x{report.height}{fps}",
            data=data,
        )
    return CheckResult(
        "camera",
        Status.FAIL,
        f"{report.kind} {report.source}: {report.error or 'no frame read'}",
        "check the cable/power and [camera] source; for V4L2 the user needs the 'video' group "
        "(ls -l /dev/video*); for RTSP the URL, credentials and network",
        data,
    )


def check_models(config: ModelsConfig) -> CheckResult:
    from gateway.modelhub import LicenceNotAccepted, ManifestError, ModelFileError, resolve_pack

    try:
        resolved = resolve_pack(config)
    except LicenceNotAccepted as error:
        return CheckResult("models", Status.FAIL, str(error), f"add {error.setting} if allowed")
    except ManifestError as error:
        return CheckResult("models", Status.FAIL, str(error), "fix [models] pack / manifest")
    except ModelFileError as error:
        return CheckResult(
            "models",
            Status.FAIL,
            str(error),
            f"menwei models fetch --dir {config.dir} (add --from DIR for a local mirror)",
        )
    names = ", ".join(sorted(resolved.paths))
    return CheckResult("models", Status.OK, f"pack {config.pack!r} verified: {names}")


def _device_access(path: str) -> str | None:
    """None when `path` exists and is readable and writable by this user, else the problem."""
    if not os.path.exists(path):
        return f"{path} does not exist"
    if not os.access(path, os.R_OK | os.W_OK):
        return f"{path} is not readable and writable by uid {os.getuid()}"
    return None


def check_door(config: DoorConfig, *, start: bool = False) -> CheckResult:
    """Device nodes present and accessible; with `start`, open the backend and put it safe."""
    if config.backend == "sim":
        return CheckResult("door", Status.OK, "simulated door backend (no hardware)")
    if config.backend == "gpiod":
        device = config.gpiod.chip
        fix = "enable the GPIO chip and add the user to the 'gpio' group (sysusers)"
    else:
        device = config.mcu.port
        fix = (
            "wire the MCU (docs/wiring.md), enable the UART (raspi-config: serial port on, "
            "login shell off) and add the user to the 'dialout' group"
        )
    problem = _device_access(device)
    if problem is not None:
        return CheckResult("door", Status.FAIL, f"{config.backend}: {problem}", fix)
    if not start:
        return CheckResult("door", Status.OK, f"{config.backend}: {device} accessible")
    from firmware_bridge.backends import create_door_io
    from firmware_bridge.io import HardwareError

    io = create_door_io(config)
    try:
        io.start()
        io.go_safe()
    except (HardwareError, OSError) as error:
        return CheckResult(
            "door",
            Status.FAIL,
            f"{config.backend}: could not start: {error}",
            "stop menwei first (it holds the lines/port): systemctl stop menwei; then " + fix,
        )
    finally:
        io.stop()
    return CheckResult("door", Status.OK, f"{config.backend}: started and put in its safe state")


def check_broker(
    host: str,
    port: int,
    *,
    tls: bool,
    ca_file: Path | None = None,
    server_hostname: str | None = None,
    timeout_s: float = 5.0,
) -> CheckResult:
    """TCP connect to the MQTT broker, then (with `tls`) a verified TLS handshake."""
    target = f"{host}:{port}"
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as error:
        return CheckResult(
            "broker",
            Status.FAIL,
            f"{target}: TCP connect failed: {error}",
            "check [station] host/port, DNS, the uplink and the station's firewall",
        )
    with raw:
        if not tls:
            return CheckResult(
                "broker",
                Status.WARN,
                f"{target}: reachable, but TLS is off",
                "enable TLS for the station link: events carry personal data",
            )
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        try:
            with context.wrap_socket(raw, server_hostname=server_hostname or host) as secure:
                version = secure.version()
                cert = secure.getpeercert() or {}
        except ssl.SSLCertVerificationError as error:
            return CheckResult(
                "broker",
                Status.FAIL,
                f"{target}: certificate not trusted: {error.verify_message}",
                "install the station's CA certificate and set it in [station], and check the "
                "clock (a wrong date makes valid certificates look expired)",
            )
        except (ssl.SSLError, OSError) as error:
            return CheckResult(
                "broker",
                Status.FAIL,
                f"{target}: TLS handshake failed: {error}",
                "check that the port is the broker's TLS listener (usually 8883)",
            )
    expires = str(cert.get("notAfter", "?"))
    return CheckResult(
        "broker",
        Status.OK,
        f"{target}: {version}, certificate valid until {expires}",
        data={"tls_version": version, "not_after": expires},
    )


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)


def check_clock(
    run: CommandRunner = _run, which: Callable[[str], str | None] = shutil.which
) -> CheckResult:
    """NTP sync via timedatectl, else chronyc; unknown when neither can tell."""
    fix = "enable time sync: timedatectl set-ntp true (or install chrony) and allow NTP out"
    if which("timedatectl"):
        try:
            answer = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
        except (OSError, subprocess.SubprocessError):
            answer = None
        value = answer.stdout.strip() if answer is not None and answer.returncode == 0 else ""
        if value == "yes":
            return CheckResult("clock", Status.OK, "synchronised (timedatectl)")
        if value == "no":
            return CheckResult("clock", Status.FAIL, "not synchronised (timedatectl)", fix)
    if which("chronyc"):
        try:
            answer = run(["chronyc", "tracking"])
        except (OSError, subprocess.SubprocessError):
            answer = None
        if answer is not None and answer.returncode == 0:
            fields = dict(
                (key.strip(), value.strip())
                for key, _sep, value in (line.partition(":") for line in answer.stdout.splitlines())
            )
            leap = fields.get("Leap status", "")
            if leap == "Normal":
                return CheckResult("clock", Status.OK, "synchronised (chrony)")
            return CheckResult("clock", Status.FAIL, f"chrony leap status {leap!r}", fix)
    return CheckResult(
        "clock",
        Status.UNKNOWN,
        "sync status unknown (no timedatectl answer and no chronyc)",
        "check the time by hand: certificates, visitor-code windows and events depend on it",
    )


def check_disk(path: Path, min_free_bytes: int, free_bytes: Callable[[Path], int]) -> CheckResult:
    """Free space on the data file system against the snapshot floor (warn under twice it)."""
    try:
        free = free_bytes(path)
    except OSError as error:
        return CheckResult("disk", Status.FAIL, f"{path}: {error}", "check the data folder")
    mb = free // (1024 * 1024)
    floor_mb = min_free_bytes // (1024 * 1024)
    detail = f"{path}: {mb} MB free (snapshot floor {floor_mb} MB)"
    data = {"free_bytes": free}
    fix = "free space (journalctl --vacuum-size, old backups in the backup folder) or a bigger card"
    if free < min_free_bytes:
        return CheckResult("disk", Status.FAIL, detail + ": snapshots are refused", fix, data)
    if free < 2 * min_free_bytes:
        return CheckResult("disk", Status.WARN, detail, fix, data)
    return CheckResult("disk", Status.OK, detail, data=data)


def check_sqlite_integrity(path: Path | None, *, full: bool = False) -> CheckResult:
    """`PRAGMA quick_check` (or integrity_check) on the database file, opened read-only."""
    if path is None:
        return CheckResult(
            "database", Status.UNKNOWN, "not a SQLite file: integrity is the server's job"
        )
    if not path.exists():
        return CheckResult(
            "database", Status.WARN, f"{path} does not exist yet", "it is created at first start"
        )
    pragma = "integrity_check" if full else "quick_check"
    restore = "stop menwei and restore the newest backup (docs/operations.md, 'Restore')"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as connection:
            rows = [str(row[0]) for row in connection.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as error:
        return CheckResult("database", Status.FAIL, f"{path}: {error}", restore)
    if rows == ["ok"]:
        return CheckResult("database", Status.OK, f"{path}: {pragma} ok")
    return CheckResult("database", Status.FAIL, f"{path}: {pragma}: {'; '.join(rows[:5])}", restore)


def check_store_key(
    config: StoreConfig, environ: Mapping[str, str], credstore: Path
) -> CheckResult:
    """The template key can be read (outside systemd a credential is looked up in `credstore`)."""
    from gateway.store.crypto import load_key
    from gateway.store.errors import KeyUnavailable

    env = dict(environ)
    if config.key_credential and not env.get("CREDENTIALS_DIRECTORY"):
        env["CREDENTIALS_DIRECTORY"] = str(credstore)
    if config.key_file is None and config.key_credential is None:
        return CheckResult(
            "store key",
            Status.WARN,
            "no key configured: face templates cannot be stored",
            'set [store] key_credential = "menwei-template-key" (scripts/install.sh makes it)',
        )
    try:
        load_key(config, env)
    except KeyUnavailable as error:
        return CheckResult(
            "store key",
            Status.FAIL,
            str(error),
            "restore the key from the site's key escrow, or run doctor as root "
            "(the credential is readable by root only)",
        )
    return CheckResult("store key", Status.OK, "template key readable")


def _mosquitto_settings(path: Path, seen: set[Path] | None = None) -> dict[str, str]:
    """Settings of a mosquitto config file and its `include_dir` files (the last one wins)."""
    seen = set() if seen is None else seen
    seen.add(path.resolve())
    settings: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _sep, value = line.partition(" ")
        if key == "include_dir":
            for included in sorted(Path(value.strip()).glob("*.conf")):
                if included.resolve() not in seen:
                    settings.update(_mosquitto_settings(included, seen))
        else:
            settings[key] = value.strip()
    return settings


def _number(settings: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(settings.get(key, default))
    except ValueError:
        return default


def check_broker_config(path: Path, *, needed_queue: int, max_command_bytes: int) -> CheckResult:
    """The station's mosquitto keeps what it acknowledged: persistence on, a per-session queue
    of at least `needed_queue` (mosquitto's default 1000 silently drops events the gateway was
    told were delivered), and limits that fit the gateway (docs/mosquitto-station.conf)."""
    name, fix = "broker config", "install docs/mosquitto-station.conf in /etc/mosquitto/conf.d/"
    try:
        settings = _mosquitto_settings(path)
    except (OSError, UnicodeDecodeError) as error:
        return CheckResult(name, Status.FAIL, f"{path}: {error}", "check the path")
    queue = _number(settings, "max_queued_messages", 1000)
    data = {"max_queued_messages": queue, "persistence": settings.get("persistence", "false")}
    problems, warnings = [], []
    if settings.get("persistence", "false").lower() != "true":
        problems.append("persistence is off: a broker restart loses every queued event")
    if queue != 0 and queue < needed_queue:
        problems.append(
            f"max_queued_messages {queue} < {needed_queue}: a slow or offline station loses "
            "events beyond it (they are only recovered by a replay)"
        )
    if _number(settings, "autosave_interval", 1800) > 300:
        warnings.append("autosave_interval over 300 s: a broker crash loses more")
    if _number(settings, "max_inflight_messages", 20) < 100:
        warnings.append("max_inflight_messages under 100 caps the gateway's drain window")
    packet = _number(settings, "max_packet_size", 0)
    if packet and packet < max_command_bytes:
        warnings.append(f"max_packet_size {packet} refuses sync deltas the gateway accepts")
    if problems:
        return CheckResult(name, Status.FAIL, f"{path}: " + "; ".join(problems), fix, data)
    if warnings:
        return CheckResult(name, Status.WARN, f"{path}: " + "; ".join(warnings), fix, data)
    shown = "unlimited" if queue == 0 else str(queue)
    return CheckResult(name, Status.OK, f"{path}: persistence on, queue {shown}", data=data)
