"""Events and alerts: filters (time, person, door, kind), acknowledging alerts, CSV export,
and the read-only watch list the station pushed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from gateway.application.events import EventFilter, EventsQuery
from gateway.store.alerts_audit import acknowledge_alert
from gateway.store.base import Method, Verdict
from gateway.store.schema_credentials import WatchlistEntry
from provisioning.csv_export import EVENT_COLUMNS, to_csv
from provisioning.people_service import localise
from provisioning.web import Access, AppContext, Context, CurrentUser, RowId, access, audit, render

router = APIRouter()
STAFF = access(Access.STAFF)


def parse_local(text: str, context: AppContext) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, "bad_input") from None
    return localise(value, context.deps.gateway_config.site.timezone)


def event_filter(
    context: AppContext, since: str, until: str, person: str, door: str, kind: str
) -> EventFilter:
    method = Method(kind) if kind in Method.__members__.values() else None
    verdict = Verdict(kind) if kind in Verdict.__members__.values() else None
    return EventFilter(
        since=parse_local(since, context),
        until=parse_local(until, context),
        person=person,
        door=door,
        method=method,
        verdict=verdict,
    )


Text = Annotated[str, Query(max_length=100)]


@router.get("/events", openapi_extra=STAFF, include_in_schema=False)
def events_page(
    request: Request,
    context: Context,
    since: Text = "",
    until: Text = "",
    person: Text = "",
    door: Text = "",
    kind: Text = "",
) -> Response:
    wanted = event_filter(context, since, until, person, door, kind)
    rows = EventsQuery(context.deps.store).events(wanted)
    query = request.url.query
    filters = {"since": since, "until": until, "person": person, "door": door, "kind": kind}
    return render(request, "events.html", {"rows": rows, "filters": filters, "query": query})


@router.get("/events.csv", openapi_extra=STAFF, include_in_schema=False)
def events_csv(
    context: Context,
    since: Text = "",
    until: Text = "",
    person: Text = "",
    door: Text = "",
    kind: Text = "",
) -> Response:
    wanted = event_filter(context, since, until, person, door, kind)
    rows = EventsQuery(context.deps.store).events(EventFilter(**{**wanted.__dict__, "limit": 5000}))
    body = to_csv(EVENT_COLUMNS, (row.csv_cells() for row in rows))
    headers = {"Content-Disposition": 'attachment; filename="events.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/alerts", openapi_extra=STAFF, include_in_schema=False)
def alerts_page(
    request: Request, context: Context, kind: Text = "", open_only: bool = False
) -> Response:
    alerts = EventsQuery(context.deps.store).alerts(open_only=open_only, kind=kind)
    page = {"alerts": alerts, "kind": kind, "open_only": open_only}
    return render(request, "alerts.html", page)


@router.post("/alerts/{alert_id}/ack", openapi_extra=STAFF, include_in_schema=False)
def alerts_ack(request: Request, context: Context, user: CurrentUser, alert_id: RowId) -> Response:
    with context.deps.store.sessions.writing() as session:
        if acknowledge_alert(session, alert_id, user.username, context.deps.clock()):
            audit(session, request, user, "acknowledge_alert", f"alert:{alert_id}")
    return RedirectResponse("/alerts", status_code=303)


@router.get("/watchlist", openapi_extra=STAFF, include_in_schema=False)
def watchlist_page(request: Request, context: Context) -> Response:
    with context.deps.store.sessions.reading() as session:
        entries = list(session.scalars(select(WatchlistEntry).order_by(WatchlistEntry.external_id)))
    return render(request, "watchlist.html", {"entries": entries})
