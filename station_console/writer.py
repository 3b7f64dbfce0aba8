"""One ingest batch -> one PostgreSQL transaction: events (idempotent on the envelope id), alerts
with snapshots, visitor calls (`calls.record_call`), command results, telemetry, and each
gateway's latest state and watermark.

`write_batch` returns what was new, for the live board; the caller acknowledges the MQTT
messages only after the transaction committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from station_console.calls import call_dict, record_call
from station_console.messages import Envelope, GatewayMessage, Rejected
from station_console.schema import AlertRow, CommandRow, EventRow, GatewayRow, TelemetryRow
from station_console.sequence import SequenceBook

LOG = logging.getLogger(__name__)
NEW_EVENTS = insert(EventRow).on_conflict_do_nothing().returning(EventRow.id)
NEW_ALERTS = insert(AlertRow).on_conflict_do_nothing()


@dataclass
class BatchOutcome:
    new_events: int = 0
    duplicates: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    results: list[str] = field(default_factory=list)  # command ids answered
    calls: list[dict[str, Any]] = field(default_factory=list)  # calls placed or changed
    gateways: set[tuple[str, str]] = field(default_factory=set)


def _event_row(envelope: Envelope, now: datetime) -> dict[str, Any]:
    body = {k: v for k, v in envelope.body.items() if k != "snapshot"}
    text = {k: body.get(k) for k in ("door", "method", "verdict", "reason", "person")}
    return {
        "id": envelope.id,
        "site": envelope.site,
        "gateway": envelope.gateway,
        "seq": envelope.seq,
        "type": envelope.type,
        "created_at": envelope.created_at,
        "occurred_at": envelope.occurred_at(),
        "received_at": now,
        "replayed": envelope.replayed,
        "body": body,
        **{k: (str(v)[:64] if v is not None else None) for k, v in text.items()},
    }


def _alert_row(envelope: Envelope, now: datetime) -> dict[str, Any]:
    try:
        jpeg, truncated = envelope.snapshot()
    except Rejected as error:  # the alert itself still counts; only its image is refused
        LOG.warning("alert snapshot from %s/%s refused: %s", envelope.site, envelope.gateway, error)
        jpeg, truncated = None, False
    return {
        "event_id": envelope.id,
        "site": envelope.site,
        "gateway": envelope.gateway,
        "kind": str(envelope.body.get("kind", "unknown"))[:64],
        "severity": str(envelope.body.get("severity", "warning"))[:16],
        "occurred_at": envelope.occurred_at(),
        "received_at": now,
        "snapshot": jpeg,
        "snapshot_truncated": truncated,
    }


def _gateways(session: Session, keys: set[tuple[str, str]], now: datetime) -> dict[Any, GatewayRow]:
    rows = session.scalars(
        select(GatewayRow).where(tuple_(GatewayRow.site, GatewayRow.gateway).in_(list(keys)))
    ).all()
    found = {(row.site, row.gateway): row for row in rows}
    for site, gateway in keys - set(found):
        row = GatewayRow(site=site, gateway=gateway, first_seen=now, last_seen=now)
        row.highest_seq, row.complete_up_to = 0, 0
        session.add(row)
        found[(site, gateway)] = row
    return found


def _apply_gateway_message(row: GatewayRow, message: GatewayMessage, now: datetime) -> None:
    payload = message.payload
    if message.leaf == "availability":
        row.availability = str(payload)
    elif message.leaf == "status" and isinstance(payload, dict):
        row.status = payload
        row.model_id = str(payload.get("model_id") or "")[:128] or row.model_id
    elif message.leaf == "telemetry" and isinstance(payload, dict):
        row.telemetry = payload
        row.last_telemetry_at = now


def write_batch(
    session: Session,
    items: list[Envelope | GatewayMessage],
    book: SequenceBook,
    now: datetime,
    clock: float,
) -> BatchOutcome:
    outcome = BatchOutcome()
    envelopes = [item for item in items if isinstance(item, Envelope)]
    outcome.gateways = {(item.site, item.gateway) for item in items}
    if envelopes:
        unique = {envelope.id: envelope for envelope in envelopes}
        connection = session.connection()
        # executemany of one cached statement (insertmanyvalues): a multi-row VALUES would be
        # compiled afresh for every batch, which cost more than the database work
        inserted = set(
            connection.execute(NEW_EVENTS, [_event_row(e, now) for e in unique.values()]).scalars()
        )
        outcome.new_events = len(inserted)
        outcome.duplicates = len(envelopes) - len(inserted)
        fresh = [unique[i] for i in unique if i in inserted]
        alerts = [_alert_row(e, now) for e in fresh if e.type == "alert"]
        if alerts:
            connection.execute(NEW_ALERTS, alerts)
            outcome.alerts = [
                {k: v for k, v in a.items() if k != "snapshot"}
                | {"has_snapshot": bool(a["snapshot"])}
                for a in alerts
            ]
        for envelope in fresh:
            if envelope.type == "command_result":
                _record_result(session, envelope, outcome)
            elif envelope.type == "visitor_call":
                call = record_call(session, envelope, now)
                if call is not None:
                    outcome.calls.append(call_dict(call))
        for envelope in envelopes:
            book.of(envelope.site, envelope.gateway).observe(envelope.seq, clock)
    rows = _gateways(session, outcome.gateways, now)
    telemetry = []
    for item in items:
        row = rows[(item.site, item.gateway)]
        row.last_seen = now
        if isinstance(item, GatewayMessage):
            _apply_gateway_message(row, item, now)
            if item.leaf == "status" and isinstance(item.payload, dict):
                _watermark(book, item, clock)
            if item.leaf == "telemetry" and isinstance(item.payload, dict):
                telemetry.append(
                    {"site": item.site, "gateway": item.gateway, "at": now, "payload": item.payload}
                )
    if telemetry:
        session.connection().execute(insert(TelemetryRow), telemetry)
    for key, row in rows.items():
        entry = book.of(*key)
        row.highest_seq, row.complete_up_to = entry.highest, entry.complete_up_to
    return outcome


def _watermark(book: SequenceBook, message: GatewayMessage, clock: float) -> None:
    payload = message.payload
    assert isinstance(payload, dict)
    outbox = payload.get("outbox")
    delivered = outbox.get("delivered_up_to") if isinstance(outbox, dict) else None
    if type(delivered) is int and delivered > 0:
        book.of(message.site, message.gateway).expect_up_to(delivered, clock)


def _record_result(session: Session, envelope: Envelope, outcome: BatchOutcome) -> None:
    body = envelope.body
    command_id = body.get("command_id")
    if not isinstance(command_id, str):
        return
    session.execute(
        update(CommandRow)
        .where(CommandRow.command_id == command_id)
        .values(
            result_ok=body.get("ok") is True,
            result_error=str(body["error"])[:64] if body.get("error") else None,
            result_message=str(body.get("message", ""))[:2000],
            result_at=envelope.created_at,
        )
    )
    outcome.results.append(command_id)
