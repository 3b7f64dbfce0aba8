"""Event search, the flow per building per day, and the audit log (admins)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from station_console.queries import SEARCH_LIMIT, EventQuery, flow, search_events
from station_console.schema import AuditRow
from station_console.web.deps import ConsoleDeps

ZONE = "Asia/Shanghai"


def _time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo(ZONE))
    return parsed


def search_router(deps: ConsoleDeps) -> APIRouter:
    router = APIRouter()

    @router.get("/events")
    def events(
        request: Request,
        gateway: str = "",
        person: str = "",
        method: str = "",
        verdict: str = "",
        since: str = "",
        until: str = "",
    ) -> Response:
        principal = deps.principal(request)
        query = EventQuery(
            gateway[:64], person[:64], method[:16], verdict[:16], _time(since), _time(until)
        )
        with deps.database.session() as session:
            rows = search_events(session, query)
        return deps.render(
            request,
            "events.html",
            principal,
            rows=rows,
            q=query,
            limit=SEARCH_LIMIT,
            since=since,
            until=until,
        )

    @router.get("/flow")
    def flow_page(request: Request) -> Response:
        principal = deps.principal(request)
        with deps.database.session() as session:
            rows = flow(session, deps.config.gateways, ZONE)
        return deps.render(request, "flow.html", principal, rows=rows)

    @router.get("/audit")
    def audit_page(request: Request) -> Response:
        principal = deps.require(request, "admin")
        with deps.database.session() as session:
            rows = list(session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(300)))
        return deps.render(request, "audit.html", principal, rows=rows)

    return router
