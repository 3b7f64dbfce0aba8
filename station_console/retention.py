"""Retention per data kind: events, alerts (with their snapshots), telemetry, commands, audit.
Visitor calls (`sc_call`, snapshots already gone once a call ended) are kept as long as events.

Alerts outlive ordinary events: an alert's event row is kept as long as the alert is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from station_console.config import RetentionSection
from station_console.schema import (
    AlertRow,
    AuditRow,
    CallRow,
    CommandRow,
    EventRow,
    TelemetryRow,
)


def _run(session: Session, statement: Any) -> int:
    result = session.execute(statement)
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def purge(session: Session, policy: RetentionSection, now: datetime) -> dict[str, int]:
    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    counts: dict[str, int] = {}
    alerts = _run(
        session, delete(AlertRow).where(AlertRow.occurred_at < before(policy.alerts_days))
    )
    counts["alerts"] = alerts
    kept = select(AlertRow.event_id)
    events = _run(
        session,
        delete(EventRow).where(
            EventRow.occurred_at < before(policy.events_days), EventRow.id.not_in(kept)
        ),
    )
    counts["events"] = events
    calls = _run(
        session,
        delete(CallRow).where(
            CallRow.received_at < before(policy.events_days), CallRow.state != "ringing"
        ),
    )
    counts["calls"] = calls
    telemetry = _run(
        session, delete(TelemetryRow).where(TelemetryRow.at < before(policy.telemetry_days))
    )
    counts["telemetry"] = telemetry
    commands = _run(
        session, delete(CommandRow).where(CommandRow.sent_at < before(policy.commands_days))
    )
    counts["commands"] = commands
    audit = _run(session, delete(AuditRow).where(AuditRow.at < before(policy.audit_days)))
    counts["audit"] = audit
    return counts
