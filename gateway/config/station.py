"""The `[station]` config table: broker, credentials, topic prefix, station key and delivery limits.

Pure validation only: no file is opened and no socket is touched here. `StationLink` reads the
files named here (CA, client certificate, password file, station public key) when it starts.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

TOPIC_SAFE = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"


class StationConfig(BaseModel):
    """How this gateway talks to the station platform over MQTT (see docs/mqtt.md)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(False, description="Run the station link at all.")
    host: str = Field(
        "127.0.0.1", min_length=1, max_length=253, description="Broker host name or address."
    )
    port: int = Field(8883, ge=1, le=65535, description="Broker port (TLS).")
    topic_prefix: str = Field(
        "menwei/v1",
        min_length=1,
        max_length=64,
        pattern=TOPIC_SAFE,
        description="Root of the topic tree; topics are <prefix>/<site>/<gateway>/... "
        "The contract version is part of the prefix.",
    )
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="MQTT client id; default 'menwei-<site>-<gateway>'. Stable across restarts "
        "so the broker keeps the persistent session.",
    )
    ca_file: Path | None = Field(
        None,
        description="CA bundle that signed the broker's certificate; None uses the system "
        "trust store. The server certificate and host name are always verified.",
    )
    cert_file: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: Path | None = Field(None, description="Client private key (PEM) for mutual TLS.")
    username: str | None = Field(None, min_length=1, max_length=128, description="MQTT username.")
    password_file: Path | None = Field(
        None,
        description="File holding the MQTT password (first line). Never put the password in "
        "the config itself.",
    )
    station_public_key: str | None = Field(
        None,
        min_length=44,
        max_length=44,
        pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="The station's Ed25519 public key, raw 32 bytes in base64 (from "
        "`menwei station keygen`). Commands not signed by it are refused; without it every "
        "command is refused.",
    )
    nonce_db: Path = Field(
        Path("var/station-nonces.db"),
        description="SQLite file remembering command nonces until they expire, so a replayed "
        "command is refused across restarts.",
    )
    max_nonces: int = Field(
        10000,
        ge=100,
        le=1_000_000,
        description="Most unexpired nonces remembered; when full, new commands are refused "
        "until old ones expire (a flood cannot evict a nonce and open a replay window).",
    )
    max_command_lifetime_s: int = Field(
        300,
        ge=5,
        le=3600,
        description="Commands whose expires_at is further than this from now are refused.",
    )
    clock_skew_s: int = Field(
        30, ge=0, le=600, description="Tolerated clock difference for issued_at in the future."
    )
    max_command_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest sync_people / sync_watchlist payload accepted (checked before it is "
        "parsed; the broker is asked not to send bigger packets at all). About 5,000 templates "
        "of 512 floats; send larger deltas in parts. At most this many bytes of large commands "
        "wait at once; more are refused busy.",
    )
    max_small_command_bytes: int = Field(
        65536,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest payload of every other command (open, issue_code, set_config, ...), "
        "checked before it is parsed.",
    )
    max_command_depth: int = Field(
        32,
        ge=8,
        le=256,
        description="Deepest JSON nesting of a command payload, checked before it is parsed.",
    )
    command_window: int = Field(
        16,
        ge=1,
        le=1000,
        description="Commands the broker may have in flight to this gateway (MQTT 5 Receive "
        "Maximum). A command is acknowledged only after its result is committed, so a flood "
        "waits at the broker, not in the gateway's memory.",
    )
    refusal_results_per_minute: int = Field(
        60,
        ge=1,
        le=60_000,
        description="Results written for commands refused before their signature verified "
        "(anyone on the broker can send those); the rest are counted and the next result "
        "reports them in data.suppressed. Signed commands always get their result.",
    )
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keep-alive.")
    session_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=0,
        le=30 * 24 * 3600,
        description="How long the broker keeps this gateway's session (queued commands) offline.",
    )
    reconnect_min_s: float = Field(1.0, ge=0.1, le=60, description="First reconnect delay.")
    reconnect_max_s: float = Field(60.0, ge=1, le=3600, description="Longest reconnect delay.")
    inflight_window: int = Field(
        100, ge=1, le=1000, description="QoS 1 messages awaiting PUBACK at once."
    )
    batch_size: int = Field(500, ge=1, le=5000, description="Outbox rows read per query.")
    max_pending: int = Field(
        100_000,
        ge=1000,
        le=10_000_000,
        description="Pending outbox rows above which routine events are compacted (oldest "
        "granted access events are skipped for live delivery, kept for replay). Alerts, denials "
        "and command results are never compacted.",
    )
    retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Delivered outbox rows are kept this long for replay, then deleted.",
    )
    max_replay: int = Field(
        10_000, ge=1, le=1_000_000, description="Most rows one replay command re-sends."
    )
    max_snapshot_bytes: int = Field(
        262144,
        ge=1024,
        le=4 * 1024 * 1024,
        description="Largest alert snapshot sent inline (base64); larger ones are sent without "
        "the image and flagged snapshot_truncated.",
    )
    status_interval_s: float = Field(
        30.0, ge=1, le=3600, description="How often status and telemetry are published."
    )
    home_assistant_discovery: bool = Field(
        False, description="Publish Home Assistant MQTT discovery for the door (lock entity)."
    )
    home_assistant_prefix: str = Field(
        "homeassistant",
        min_length=1,
        max_length=64,
        pattern=TOPIC_SAFE,
        description="Home Assistant's discovery prefix.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> StationConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("set both cert_file and key_file for a client certificate, or none")
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self
