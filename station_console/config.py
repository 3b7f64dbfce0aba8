"""station.toml: the console's settings (pydantic, unknown keys refused).

[broker] where the MQTT broker is and how the station logs in; [database] the PostgreSQL URL;
[signing] the Ed25519 private key file (never in the database); [retention] days per data kind;
[gateways] the telemetry interval (offline detection) and which building each gateway's door is
in; [calls] how long a visitor call may ring at the station before its snapshot is dropped
anyway; [web] the console's HTTP listener and session lifetimes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gateway.station.mqtt_client import BrokerAccess, read_password


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrokerSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8883, ge=1, le=65535)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = "station"
    password_file: Path | None = None
    client_id: str = Field("menwei-station-console", min_length=1, max_length=128)
    topic_prefix: str = "menwei/v1"
    session_expiry_s: int = Field(14 * 86400, ge=60)
    receive_maximum: int = Field(1000, ge=1, le=65535, description="unacknowledged in flight")

    def access(self) -> BrokerAccess:
        return BrokerAccess(
            self.host,
            self.port,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            username=self.username,
            password=read_password(self.password_file),
        )


class DatabaseSection(_Section):
    url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/menwei_station"


class SigningSection(_Section):
    key_file: Path | None = None  # PEM Ed25519 private key (menwei station keygen)
    command_lifetime_s: int = Field(60, ge=5, le=3600)


class ReplaySection(_Section):
    grace_s: float = Field(2.0, ge=0, description="a gap older than this is asked for")
    retry_s: float = Field(15.0, ge=1, description="ask again when still missing after this")
    attempts: int = Field(8, ge=1, description="give a gap up after this many requests")
    max_per_command: int = Field(10_000, ge=1, description="the gateway's max_replay")


class RetentionSection(_Section):
    events_days: int = Field(180, ge=1)
    alerts_days: int = Field(365, ge=1)
    telemetry_days: int = Field(7, ge=1)
    commands_days: int = Field(365, ge=1)
    audit_days: int = Field(730, ge=1)


class GatewaysSection(_Section):
    telemetry_interval_s: float = Field(60.0, gt=0)
    offline_after_intervals: float = Field(1.0, gt=0, description="silence that means offline")
    buildings: dict[str, str] = Field(
        default_factory=dict, description='"<site>/<gateway>" -> building name, for the flow'
    )

    def building_of(self, site: str, gateway: str) -> str:
        return self.buildings.get(f"{site}/{gateway}", site)


class CallsSection(_Section):
    snapshot_max_s: float = Field(
        120.0,
        gt=0,
        description="a call still ringing after this (its end never arrived) is closed "
        "`unresolved` and its snapshot deleted; keep it above the gateways' ring_s (45 s)",
    )
    board_minutes: int = Field(30, ge=1, description="ended calls stay on the board this long")


class WebSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8088, ge=0, le=65535)
    session_minutes: int = Field(30, ge=1)
    session_max_hours: int = Field(12, ge=1)
    secure_cookies: bool = True
    board_size: int = Field(200, ge=10, le=5000)
    tls_cert: Path | None = None  # without both, plain HTTP (behind a TLS proxy or on localhost)
    tls_key: Path | None = None


class ConsoleConfig(_Section):
    broker: BrokerSection = Field(default_factory=BrokerSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    signing: SigningSection = Field(default_factory=SigningSection)
    replay: ReplaySection = Field(default_factory=ReplaySection)
    retention: RetentionSection = Field(default_factory=RetentionSection)
    gateways: GatewaysSection = Field(default_factory=GatewaysSection)
    calls: CallsSection = Field(default_factory=CallsSection)
    web: WebSection = Field(default_factory=WebSection)


def load_config(path: Path) -> ConsoleConfig:
    with path.open("rb") as handle:
        return ConsoleConfig.model_validate(tomllib.load(handle))
