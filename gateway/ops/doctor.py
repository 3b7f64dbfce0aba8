"""`menwei doctor`: run every check a technician needs at the door, and say what to fix.

`run_doctor(config)` picks the checks for a configuration and runs them one after the other; a
check that crashes becomes a failed result naming the exception, so the report is always
complete. The broker check runs when the configuration has an enabled `[station]` table; it
reads the station's `host`, `port`, `ca_file` and (when present) `tls` / `server_hostname`. The
broker config check reads the station broker's mosquitto config (`--broker-config`, or the local
one when the broker is this host): persistence and a queue that does not drop events.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway.config.model import GatewayConfig
from gateway.config.ops import OpsConfig
from gateway.ops.doctor_checks import (
    CheckResult,
    Status,
    check_broker,
    check_broker_config,
    check_camera,
    check_clock,
    check_disk,
    check_door,
    check_models,
    check_sqlite_integrity,
    check_store_key,
)
from gateway.ops.paths import data_folder, sqlite_path
from gateway.ops.telemetry import disk_free_bytes

DEFAULT_CREDSTORE = Path("/etc/menwei/credstore")
LOCAL_MOSQUITTO_CONFIG = Path("/etc/mosquitto/mosquitto.conf")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_MARKS = {Status.OK: " OK ", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.UNKNOWN: " ?? "}


@dataclass(frozen=True)
class BrokerTarget:
    host: str
    port: int
    tls: bool
    ca_file: Path | None = None
    server_hostname: str | None = None


def broker_target(config: GatewayConfig) -> BrokerTarget | None:
    """The MQTT broker from the `[station]` table, or None when the config has none."""
    station: Any = getattr(config, "station", None)
    if station is None or not getattr(station, "enabled", True) or not getattr(station, "host", ""):
        return None
    ca_file = getattr(station, "ca_file", None)
    return BrokerTarget(
        host=str(station.host),
        port=int(getattr(station, "port", 8883)),
        tls=bool(getattr(station, "tls", True)),
        ca_file=Path(ca_file) if ca_file else None,
        server_hostname=getattr(station, "server_hostname", None),
    )


def ops_config(config: GatewayConfig) -> OpsConfig:
    ops = getattr(config, "ops", None)
    return ops if isinstance(ops, OpsConfig) else OpsConfig()


def _guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except Exception as error:  # a crashing check is a finding, not a crash of doctor
        return CheckResult(
            name, Status.FAIL, f"check crashed: {type(error).__name__}: {error}", "report a bug"
        )


def run_doctor(
    config: GatewayConfig,
    *,
    start_door: bool = False,
    full_integrity: bool = False,
    skip: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    credstore: Path = DEFAULT_CREDSTORE,
    broker_config: Path | None = None,
) -> list[CheckResult]:
    """Run the checks (minus those named in `skip`) in a fixed order. `broker_config` is the
    station broker's mosquitto config (on the broker's host); without it, the local
    /etc/mosquitto/mosquitto.conf is checked when the station broker is this host."""
    env = os.environ if environ is None else environ
    min_free = ops_config(config).retention.min_free_mb * 1024 * 1024
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("camera", lambda: check_camera(config.camera)),
        ("models", lambda: check_models(config.models)),
        ("door", lambda: check_door(config.door, start=start_door)),
        ("clock", check_clock),
        ("disk", lambda: check_disk(data_folder(config), min_free, disk_free_bytes)),
        (
            "database",
            lambda: check_sqlite_integrity(sqlite_path(config.store.url), full=full_integrity),
        ),
        ("store key", lambda: check_store_key(config.store, env, credstore)),
    ]
    target = broker_target(config)
    if target is not None:
        checks.append(
            (
                "broker",
                lambda: check_broker(
                    target.host,
                    target.port,
                    tls=target.tls,
                    ca_file=target.ca_file,
                    server_hostname=target.server_hostname,
                ),
            )
        )
    if broker_config is None and target is not None and target.host in LOCAL_HOSTS:
        broker_config = LOCAL_MOSQUITTO_CONFIG if LOCAL_MOSQUITTO_CONFIG.exists() else None
    if broker_config is not None:
        station: Any = getattr(config, "station", None)
        path = broker_config
        checks.append(
            (
                "broker config",
                lambda: check_broker_config(
                    path,
                    needed_queue=int(getattr(station, "max_pending", 100_000)),
                    max_command_bytes=int(getattr(station, "max_command_bytes", 16 * 1024 * 1024)),
                ),
            )
        )
    return [_guarded(name, check) for name, check in checks if name not in skip]


def failed(results: Sequence[CheckResult]) -> bool:
    return any(result.status is Status.FAIL for result in results)


def render_text(results: Sequence[CheckResult]) -> str:
    lines = []
    for result in results:
        lines.append(f"[{_MARKS[result.status]}] {result.name}: {result.detail}")
        if result.fix and result.status is not Status.OK:
            lines.append(f"       fix: {result.fix}")
    bad = sum(result.status is Status.FAIL for result in results)
    lines.append(f"{len(results)} checks, {bad} failed" if bad else f"{len(results)} checks, ok")
    return "\n".join(lines)


def render_json(results: Sequence[CheckResult]) -> str:
    documents = [{**asdict(result), "status": result.status.value} for result in results]
    return json.dumps(
        {"ok": not failed(results), "checks": documents}, ensure_ascii=False, indent=2, default=str
    )
