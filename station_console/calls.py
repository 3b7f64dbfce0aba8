"""Visitor calls at the station: `visitor_call` messages -> one `sc_call` row per call.

`placed` inserts the call as `ringing` with the caller's snapshot (when the message still carries
it); `accepted`, `declined` and `missed` end it and set the snapshot to NULL in the same
transaction, so the station holds the image only for the call's lifetime, the gateway's rule.
An answer the gateway refused (`refused` with a call id) leaves the call ringing and records the
reason. Messages may arrive out of order (replays): an end that comes before its `placed` creates
the row already ended, and the late `placed` then changes nothing (its snapshot is not stored).
A call whose end never arrives (the gateway died) is closed `unresolved` by `end_stale_calls`
after `[calls] snapshot_max_s`, and its snapshot deleted too. A row names its gateway: a message
from another gateway cannot touch it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from station_console.messages import Envelope, Rejected
from station_console.schema import CallRow

LOG = logging.getLogger(__name__)
CALL_ID = re.compile(r"[0-9a-f]{32}")
ENDINGS = ("accepted", "declined", "missed")
RINGING = "ringing"
UNRESOLVED = "unresolved"


def call_dict(row: CallRow) -> dict[str, Any]:
    """What the board shows of a call (never the image itself: its URL while it rings)."""
    unit = row.unit or {}
    return {
        "call_id": row.call_id,
        "site": row.site,
        "gateway": row.gateway,
        "door": row.door,
        "unit": "/".join(str(unit.get(k, "")) for k in ("building", "unit_number", "room_number"))
        if unit
        else "",
        "state": row.state,
        "placed_at": row.placed_at.isoformat(),
        "has_snapshot": row.snapshot is not None,
        "answered_by": row.answered_by,
        "answer_command_id": row.answer_command_id,
        "last_refusal": row.last_refusal,
    }


def _snapshot(envelope: Envelope) -> tuple[bytes | None, bool]:
    try:
        return envelope.snapshot()
    except Rejected as error:  # a bad image never blocks the call itself
        LOG.warning("call snapshot from %s/%s refused: %s", envelope.site, envelope.gateway, error)
        return None, False


def _own(session: Session, envelope: Envelope, call_id: str) -> CallRow | None:
    row = session.get(CallRow, call_id)
    if row is None or (row.site, row.gateway) != (envelope.site, envelope.gateway):
        return None
    return row


def record_call(session: Session, envelope: Envelope, now: datetime) -> CallRow | None:
    """Apply one new `visitor_call` message; the changed row, or None when nothing changed."""
    body = envelope.body
    call_id, outcome = body.get("call_id"), body.get("outcome")
    if not isinstance(call_id, str) or CALL_ID.fullmatch(call_id) is None:
        return None  # a call key that rang nothing: only its event is kept
    door = str(body.get("door") or "")[:64]
    unit = body.get("unit") if isinstance(body.get("unit"), dict) else None
    if outcome == "placed":
        session.flush()  # an end earlier in this batch must be seen by ON CONFLICT
        jpeg, truncated = _snapshot(envelope)
        values = {
            "call_id": call_id,
            "site": envelope.site,
            "gateway": envelope.gateway,
            "door": door,
            "unit": unit,
            "state": RINGING,
            "placed_at": envelope.occurred_at(),
            "received_at": now,
            "snapshot": jpeg,
            "snapshot_truncated": truncated,
        }
        statement = insert(CallRow).values(values).on_conflict_do_nothing()
        inserted = session.execute(statement.returning(CallRow.call_id)).scalar_one_or_none()
        return None if inserted is None else session.get(CallRow, call_id)
    if outcome in ENDINGS:
        row = session.get(CallRow, call_id)
        if row is None:
            row = CallRow(
                call_id=call_id,
                site=envelope.site,
                gateway=envelope.gateway,
                door=door,
                unit=unit,
                placed_at=envelope.occurred_at(),
                received_at=now,
                snapshot_truncated=False,
            )
            session.add(row)
        elif (row.site, row.gateway) != (envelope.site, envelope.gateway):
            return None
        row.state, row.ended_at, row.snapshot = str(outcome), envelope.occurred_at(), None
        row.answered_by = str(body.get("answered_by") or "")[:128] or row.answered_by
        return row
    if outcome == "refused":
        row = _own(session, envelope, call_id)
        if row is not None:
            row.last_refusal = str(body.get("reason") or "")[:64]
        return row
    return None


def end_stale_calls(session: Session, now: datetime, max_ring: timedelta) -> list[CallRow]:
    """Close calls still ringing after `max_ring` (their end never arrived); drop snapshots."""
    stale = list(
        session.scalars(
            select(CallRow).where(CallRow.state == RINGING, CallRow.received_at < now - max_ring)
        )
    )
    for row in stale:
        row.state, row.ended_at, row.snapshot = UNRESOLVED, now, None
    return stale


def recent_calls(session: Session, since: datetime, limit: int) -> list[CallRow]:
    """Ringing calls, and those received since `since`, newest first."""
    return list(
        session.scalars(
            select(CallRow)
            .where(or_(CallRow.state == RINGING, CallRow.received_at >= since))
            .order_by(CallRow.received_at.desc())
            .limit(limit)
        )
    )


def note_answer(session: Session, call_id: str, command_id: str) -> None:
    session.execute(
        update(CallRow).where(CallRow.call_id == call_id).values(answer_command_id=command_id)
    )
