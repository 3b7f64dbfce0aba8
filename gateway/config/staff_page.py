"""The `[provisioning]` config table: where the staff page listens and how it guards itself.

Pure validation only: certificates are generated or read by `provisioning.tls` at start-up.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ProvisioningConfig(BaseModel):
    """Bind address, TLS, sessions, login lockout, uploads and photo retention of the staff page."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="Serve the staff page beside the access service.")
    bind: str = Field(
        "0.0.0.0",
        min_length=1,
        max_length=64,
        description="Address the HTTPS server listens on (the building LAN interface).",
    )
    port: int = Field(8443, ge=1, le=65535, description="HTTPS port.")
    tls_cert: Path = Field(
        Path("var/provisioning/tls/cert.pem"),
        description="PEM certificate; a self-signed one is generated here at first start "
        "when missing (an admin may upload another).",
    )
    tls_key: Path = Field(
        Path("var/provisioning/tls/key.pem"), description="PEM private key of tls_cert."
    )
    tls_hostnames: list[str] = Field(
        default_factory=lambda: ["menwei.local", "localhost"],
        description="DNS names put in the generated certificate (IP addresses go in as IPs).",
    )
    session_minutes: int = Field(
        30, ge=1, le=24 * 60, description="Idle minutes before a staff session expires."
    )
    session_max_hours: int = Field(
        12, ge=1, le=168, description="Absolute session lifetime, however active."
    )
    lockout_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed logins for one account name from one source (IPv4 address or "
        "IPv6 /64) that lock that name for that source; other sources can still sign in.",
    )
    lockout_source_failures: int = Field(
        20,
        ge=1,
        le=1000,
        description="Failed logins from one source, whatever the account names, that lock "
        "that source out of every login.",
    )
    lockout_minutes: int = Field(
        15, ge=1, le=24 * 60, description="How long a locked name or source stays locked."
    )
    login_cpu_share: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="Largest share of the time the login password checks may take together "
        "(they run one at a time); beyond it, after a burst, logins are refused at once as "
        "busy (HTTP 429), so a login flood cannot take the CPU from the door. A source that "
        "signed in successfully before is not held to it.",
    )
    max_upload_bytes: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="Largest request body (photo uploads, CSV, certificates) accepted.",
    )
    body_timeout_s: float = Field(
        60.0,
        ge=1.0,
        le=600.0,
        description="Seconds a request body may take to arrive in full; a slower one is refused "
        "with 408 and its connection closed.",
    )
    max_concurrent_uploads: int = Field(
        4,
        ge=1,
        le=32,
        description="Requests with a body above 16 KiB (photos, CSV, certificates) handled at "
        "once; one more is refused with 503 until one finishes.",
    )
    max_connections: int = Field(
        256,
        ge=16,
        le=4096,
        description="Open connections and requests the HTTPS server accepts at once; beyond it "
        "new requests get 503 (bounds memory under a connection flood).",
    )
    max_photos_per_enrolment: int = Field(
        5, ge=1, le=20, description="Photos analysed in one enrolment step."
    )
    keep_photos: bool = Field(
        False,
        description="Keep enrolment photos after the template is made (off: discarded at once).",
    )
    photo_dir: Path = Field(
        Path("var/provisioning/photos"),
        description="Where kept enrolment photos live (only with keep_photos); erasure deletes "
        "the person's folder.",
    )
    consent_text_version: str = Field(
        "2026-01",
        min_length=1,
        max_length=32,
        description="Version of the face-recognition consent text shown at enrolment.",
    )
    min_password_length: int = Field(
        12, ge=10, le=128, description="Minimum length of staff passwords."
    )
