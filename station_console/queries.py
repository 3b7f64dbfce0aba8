"""Read-side queries of the console: the open alerts, event search, and the flow of people in
and out per building per day (exits are `out`; every other granted passage is `in`, and so is a
visitor call accepted at the door; calls placed and accepted are counted from the
`visitor_call` messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from station_console.config import GatewaysSection
from station_console.schema import AlertRow, CommandRow, EventRow

SEARCH_LIMIT = 500


def open_alerts(session: Session, limit: int) -> list[AlertRow]:
    return list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.acknowledged_at.is_(None))
            .order_by(AlertRow.occurred_at.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class EventQuery:
    gateway: str = ""
    person: str = ""
    method: str = ""
    verdict: str = ""
    since: datetime | None = None
    until: datetime | None = None


def search_events(session: Session, query: EventQuery) -> list[EventRow]:
    statement = select(EventRow).where(EventRow.type == "access_event")
    if query.gateway:
        statement = statement.where(EventRow.gateway == query.gateway)
    if query.person:
        statement = statement.where(EventRow.person == query.person)
    if query.method:
        statement = statement.where(EventRow.method == query.method)
    if query.verdict:
        statement = statement.where(EventRow.verdict == query.verdict)
    if query.since is not None:
        statement = statement.where(EventRow.occurred_at >= query.since)
    if query.until is not None:
        statement = statement.where(EventRow.occurred_at < query.until)
    ordered = statement.order_by(EventRow.occurred_at.desc()).limit(SEARCH_LIMIT)
    return list(session.scalars(ordered))


@dataclass
class FlowRow:
    building: str
    day: str
    counts: dict[str, int] = field(default_factory=dict)


def category(method: str | None, verdict: str | None) -> str:
    if verdict != "grant":
        return "denied"
    if method == "exit":
        return "out"
    if method == "code":
        return "visitors"
    if method == "remote":
        return "remote"
    return "residents"


CALL_REASONS = {"call_placed": "calls_placed", "call_accepted": "calls_accepted"}


def flow(session: Session, gateways: GatewaysSection, zone: str, days: int = 14) -> list[FlowRow]:
    day = func.date(func.timezone(zone, EventRow.occurred_at))
    passages = (
        select(
            EventRow.site, EventRow.gateway, day, EventRow.method, EventRow.verdict, func.count()
        )
        .where(EventRow.type == "access_event")
        .group_by(EventRow.site, EventRow.gateway, day, EventRow.method, EventRow.verdict)
    )
    calls = (
        select(EventRow.site, EventRow.gateway, day, EventRow.reason, func.count())
        .where(EventRow.type == "visitor_call", EventRow.reason.in_(list(CALL_REASONS)))
        .group_by(EventRow.site, EventRow.gateway, day, EventRow.reason)
    )
    table: dict[tuple[str, str], FlowRow] = {}

    def add(site: str, gateway: str, when: object, name: str, count: int) -> None:
        key = (gateways.building_of(site, gateway), str(when))
        row = table.setdefault(key, FlowRow(*key))
        row.counts[name] = row.counts.get(name, 0) + count
        if name in ("residents", "visitors", "remote", "calls_accepted"):
            row.counts["in"] = row.counts.get("in", 0) + count

    for site, gateway, when, method, verdict, count in session.execute(passages):
        add(site, gateway, when, category(method, verdict), int(count))
    for site, gateway, when, reason, count in session.execute(calls):
        add(site, gateway, when, CALL_REASONS[reason], int(count))
    rows = sorted(table.values(), key=lambda r: (r.day, r.building), reverse=True)
    return rows[: days * max(1, len({r.building for r in rows}))]


def recent_commands(session: Session, limit: int = 50) -> list[CommandRow]:
    return list(
        session.scalars(select(CommandRow).order_by(CommandRow.sent_at.desc()).limit(limit))
    )


def alert_dict(row: AlertRow) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "site": row.site,
        "gateway": row.gateway,
        "kind": row.kind,
        "severity": row.severity,
        "occurred_at": row.occurred_at.isoformat(),
        "has_snapshot": row.snapshot is not None,
        "assigned_to": row.assigned_to,
    }
