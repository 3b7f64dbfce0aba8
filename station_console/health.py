"""Gateway health as the board shows it: online (telemetry within its interval and availability
not `offline`), last seen, and the runtime figures of the latest telemetry and status."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from station_console.config import GatewaysSection
from station_console.schema import GatewayRow


@dataclass(frozen=True)
class GatewayHealth:
    site: str
    gateway: str
    online: bool
    last_seen: str
    fps: float | None
    latency_p95_ms: float | None
    outbox_depth: float | None
    cpu_temperature_c: float | None
    disk_free_gb: float | None
    model_id: str | None
    missing: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_online(row: GatewayRow, now: datetime, policy: GatewaysSection) -> bool:
    if row.availability == "offline" or row.last_telemetry_at is None:
        return False
    silence = timedelta(seconds=policy.telemetry_interval_s * policy.offline_after_intervals)
    return now - row.last_telemetry_at <= silence


def _number(values: dict[str, Any], key: str) -> float | None:
    value = values.get(key)
    return float(value) if isinstance(value, int | float) else None


def health_of(row: GatewayRow, now: datetime, policy: GatewaysSection) -> GatewayHealth:
    telemetry = row.telemetry or {}
    runtime = telemetry.get("runtime") if isinstance(telemetry.get("runtime"), dict) else {}
    assert isinstance(runtime, dict)
    disk = _number(runtime, "disk_free_bytes")
    depth = _number(runtime, "outbox_depth")
    return GatewayHealth(
        site=row.site,
        gateway=row.gateway,
        online=is_online(row, now, policy),
        last_seen=row.last_seen.isoformat(timespec="seconds"),
        fps=_number(runtime, "fps"),
        latency_p95_ms=_number(runtime, "decision_latency_p95_ms"),
        outbox_depth=depth if depth is not None else _number(telemetry, "outbox_pending"),
        cpu_temperature_c=_number(runtime, "cpu_temperature_c"),
        disk_free_gb=None if disk is None else round(disk / 1e9, 1),
        model_id=row.model_id,
        missing=max(0, row.highest_seq - row.complete_up_to),
    )


def all_health(session: Session, now: datetime, policy: GatewaysSection) -> list[GatewayHealth]:
    rows = session.scalars(select(GatewayRow).order_by(GatewayRow.site, GatewayRow.gateway))
    return [health_of(row, now, policy) for row in rows]
