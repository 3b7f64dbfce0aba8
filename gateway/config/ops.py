"""The `[ops]` config table: metrics endpoint, retention periods and the systemd watchdog.

Pure validation only. Retention defaults are the shortest periods that still let a guard review
an alert over a weekend and the station reconcile its copy: PIPL art. 19 and GB/T 35273-2020
§6.1 ask for the minimum period necessary, and the 2025 face-recognition measures (人脸识别技术
应用安全管理办法) add that face information is kept no longer than its purpose needs. Sites whose
local public-security rules ask for longer access-record retention raise `events_days` and write
down why (docs/privacy.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _OpsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MetricsConfig(_OpsSection):
    """Prometheus endpoint (off by default) and the telemetry snapshot period."""

    enabled: bool = Field(
        False, description="Serve Prometheus metrics over HTTP on `address`:`port`."
    )
    address: str = Field(
        "127.0.0.1",
        min_length=1,
        max_length=64,
        description="Listen address; keep it on loopback (scrape through an SSH tunnel or a "
        "local agent), the endpoint has no authentication.",
    )
    port: int = Field(9410, ge=1024, le=65535, description="Listen port of the metrics endpoint.")
    telemetry_interval_s: float = Field(
        60.0,
        ge=5.0,
        le=3600.0,
        description="How often a telemetry snapshot (fps, latency, drops, outbox depth, CPU "
        "temperature, disk free) is taken for the station link.",
    )


class RetentionConfig(_OpsSection):
    """How long data is kept on the gateway; the defaults are the shortest sensible periods."""

    events_days: int = Field(
        30,
        ge=1,
        le=365,
        description="Access events (method, verdict, reason, score; no images) are deleted after "
        "this many days. The station keeps its own copy.",
    )
    alerts_days: int = Field(
        30, ge=1, le=365, description="Alert rows (kind, severity, times) are deleted after this."
    )
    snapshot_days: int = Field(
        7,
        ge=1,
        le=90,
        description="Alert snapshot images (faces) are removed after this many days, whatever "
        "the alert kind; the alert row stays until alerts_days.",
    )
    unknown_face_hours: int = Field(
        72,
        ge=1,
        le=24 * 90,
        description="Snapshots of alerts about people nobody identified (`unknown_face_kinds`) "
        "are removed after this many hours: enough for a guard to review over a weekend.",
    )
    unknown_face_kinds: list[str] = Field(
        default_factory=lambda: ["loiterer", "tailgating", "spoof_attempt"],
        max_length=32,
        description="Alert kinds whose snapshot shows an unidentified person.",
    )
    visitor_code_grace_days: int = Field(
        1,
        ge=0,
        le=90,
        description="Visitor codes that expired, were revoked or are used up are deleted this "
        "many days after their window ended or after they were issued (used-up / revoked).",
    )
    outbox_delivered_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Delete outbox rows the station acknowledged after this many days. Unset "
        "(default): the station link prunes them after [station] retention_days, the window "
        "in which the station may ask for a replay. Undelivered rows are never pruned here.",
    )
    interval_s: float = Field(
        3600.0, ge=60.0, le=86400.0, description="How often the retention job runs."
    )
    min_free_mb: int = Field(
        512,
        ge=16,
        le=1_000_000,
        description="Disk-space floor on the database's file system: below it no snapshot is "
        "written, so the database never starves for space.",
    )

    @model_validator(mode="after")
    def _snapshots_not_longer_than_alerts(self) -> RetentionConfig:
        if self.snapshot_days > self.alerts_days:
            raise ValueError("snapshot_days cannot exceed alerts_days")
        if self.unknown_face_hours > 24 * self.snapshot_days:
            raise ValueError("unknown_face_hours cannot exceed snapshot_days (in hours)")
        return self


class WatchdogConfig(_OpsSection):
    """What counts as alive for the systemd watchdog (WatchdogSec= in menwei.service)."""

    enabled: bool = Field(
        True,
        description="Ping the systemd watchdog while the gateway is alive (no effect outside "
        "systemd: WATCHDOG_USEC is not set).",
    )
    vision_stall_s: float = Field(
        30.0,
        ge=2.0,
        le=600.0,
        description="The vision thread counts as hung when its loop has not come round for "
        "this long (a stuck inference call).",
    )
    door_stall_s: float = Field(
        5.0,
        ge=0.5,
        le=120.0,
        description="The door thread counts as hung when its loop has not come round for this "
        "long (it normally comes round every 50 ms).",
    )


class OpsConfig(_OpsSection):
    """Appliance operations: metrics, retention, watchdog."""

    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)
