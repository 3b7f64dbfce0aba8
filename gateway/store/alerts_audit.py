"""Alerts for the guard (with a bounded JPEG snapshot) and the append-only audit log.

The audit log has an append function and nothing else; the database triggers created by the
migration refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of its rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.base import Severity
from gateway.store.schema_events import Alert, AuditEntry

JPEG_MAGIC = b"\xff\xd8\xff"


def raise_alert(
    session: Session,
    *,
    kind: str,
    severity: Severity,
    occurred_at: datetime,
    max_snapshot_bytes: int,
    door_id: int | None = None,
    snapshot_jpeg: bytes | None = None,
    snapshot_path: str | None = None,
) -> Alert:
    """Store an alert; an inline snapshot must be a JPEG no larger than `max_snapshot_bytes`."""
    if snapshot_jpeg is not None:
        if len(snapshot_jpeg) > max_snapshot_bytes:
            raise ValueError(
                f"snapshot is {len(snapshot_jpeg)} bytes, the limit is {max_snapshot_bytes}"
            )
        if not snapshot_jpeg.startswith(JPEG_MAGIC):
            raise ValueError("snapshot is not a JPEG")
    alert = Alert(
        kind=kind,
        severity=severity,
        occurred_at=occurred_at,
        door_id=door_id,
        snapshot_jpeg=snapshot_jpeg,
        snapshot_path=snapshot_path,
    )
    session.add(alert)
    session.flush()
    return alert


def acknowledge_alert(session: Session, alert_id: int, by: str, at: datetime) -> bool:
    """Acknowledge once; returns False when unknown or already acknowledged."""
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_by=by, acknowledged_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def open_alerts(session: Session, limit: int = 100) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.acknowledged_at.is_(None))
            .order_by(Alert.occurred_at.desc())
            .limit(limit)
        )
    )


def append_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    occurred_at: datetime,
    source_address: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor,
        action=action,
        target=target,
        occurred_at=occurred_at,
        source_address=source_address,
    )
    session.add(entry)
    session.flush()
    return entry
