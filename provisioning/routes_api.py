"""The JSON API for integrators (OpenAPI at /api/openapi.json), behind the same session auth:
log in with POST /api/v1/session, then send the cookie and the returned X-CSRF-Token header."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.application.credentials import DuplicateCard
from gateway.application.erasure import ErasureRefused
from gateway.application.events import EventFilter, EventsQuery
from gateway.application.visitor_codes import CodeRefused, CodeRequest, UnitRef
from gateway.store.alerts_audit import acknowledge_alert
from gateway.store.base import Method, Verdict
from gateway.store.credentials import CardFormatError
from gateway.store.errors import NotFound
from gateway.store.people import get_person
from gateway.store.schema_credentials import WatchlistEntry
from provisioning.api_models import (
    AlertOut,
    CodeOut,
    Credentials,
    EventOut,
    PersonOut,
    PersonUpdate,
    SessionOut,
    StatusOut,
    WatchOut,
    person_out,
)
from provisioning.api_models import (
    CodeRequest as CodeRequestIn,
)
from provisioning.credential_forms import CardIn, PinIn, TwoFactorIn
from provisioning.erase_outcome import settle_erasure
from provisioning.people_service import (
    PersonInput,
    StaleEdit,
    create_person,
    list_people,
    localise,
    person_row,
    update_person,
)
from provisioning.routes_auth import set_session_cookie
from provisioning.routes_codes import visitor_codes
from provisioning.routes_credentials import credentials
from provisioning.routes_dashboard import full_status
from provisioning.routes_people import erasure
from provisioning.web import (
    JSON_LOGIN_KEY,
    Access,
    AppContext,
    Context,
    CurrentUser,
    RowId,
    access,
    actor_of,
    audit,
    client_address,
)

router = APIRouter(prefix="/api")


def _model(context: AppContext) -> str | None:
    """The running embedder's model id: its templates are the person's good ones."""
    return None if context.deps.pipeline is None else context.deps.pipeline.model_id


PUBLIC, STAFF, ADMIN = access(Access.PUBLIC), access(Access.STAFF), access(Access.ADMIN)
Search = Annotated[str, Query(max_length=100)]


@router.post(
    "/v1/session", openapi_extra={**PUBLIC, JSON_LOGIN_KEY: True}, response_model=SessionOut
)
def api_login(request: Request, context: Context, body: Credentials) -> Response:
    result = context.auth.login(
        body.username, body.password, context.deps.clock(), client_address(request)
    )
    if result.token is None:
        raise HTTPException(result.http_status, result.error or "bad_credentials")
    principal = context.auth.resolve(result.token, context.deps.clock())
    assert principal is not None
    response = JSONResponse({"csrf_token": principal.csrf_token, "role": principal.role})
    set_session_cookie(response, result.token, context.deps.settings.session_max_hours * 3600)
    return response


@router.get("/openapi.json", openapi_extra=STAFF, include_in_schema=False)
def api_schema(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/v1/status", openapi_extra=STAFF, response_model=StatusOut)
def api_status(context: Context) -> StatusOut:
    status = full_status(context)
    checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in status.checks]
    return StatusOut(door_state=status.door_state, checks=checks)


@router.get("/v1/people", openapi_extra=STAFF, response_model=list[PersonOut])
def api_people(context: Context, q: Search = "") -> list[PersonOut]:
    with context.deps.store.sessions.reading() as session:
        return [person_out(row) for row in list_people(session, q, model_id=_model(context))]


@router.post("/v1/people", openapi_extra=STAFF, response_model=PersonOut, status_code=201)
def api_create_person(
    request: Request, context: Context, user: CurrentUser, body: PersonInput
) -> PersonOut:
    timezone = context.deps.gateway_config.site.timezone
    try:
        with context.deps.store.sessions.writing() as session:
            person = create_person(session, context.door_id, body, timezone)
            audit(session, request, user, "create_person", f"person:{person.id}")
            return person_out(person_row(session, person))
    except IntegrityError:
        raise HTTPException(409, "duplicate_external_id") from None


@router.get("/v1/people/{person_id}", openapi_extra=STAFF, response_model=PersonOut)
def api_person(context: Context, person_id: RowId) -> PersonOut:
    with context.deps.store.sessions.reading() as session:
        try:
            return person_out(person_row(session, get_person(session, person_id), _model(context)))
        except NotFound:
            raise HTTPException(404, "not_found") from None


@router.put("/v1/people/{person_id}", openapi_extra=STAFF, response_model=PersonOut)
def api_update_person(
    request: Request, context: Context, user: CurrentUser, person_id: RowId, body: PersonUpdate
) -> PersonOut:
    timezone = context.deps.gateway_config.site.timezone
    data = PersonInput.model_validate(body.model_dump(exclude={"version"}))
    try:
        with context.deps.store.sessions.writing() as session:
            person = update_person(
                session, context.door_id, person_id, data, body.version, timezone
            )
            audit(session, request, user, "update_person", f"person:{person_id}")
            row = person_out(person_row(session, person))
        context.deps.people_changed()
        return row
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except StaleEdit:
        raise HTTPException(409, "concurrent_edit") from None
    except IntegrityError:
        raise HTTPException(409, "duplicate_external_id") from None


@router.delete("/v1/people/{person_id}", openapi_extra=ADMIN, status_code=204)
def api_erase_person(
    request: Request, context: Context, user: CurrentUser, person_id: RowId
) -> Response:
    try:
        erased = erasure(context).erase(person_id, actor_of(request, user))
    except (NotFound, ErasureRefused):
        raise HTTPException(404, "not_found") from None
    settle_erasure(context, request, user, erased.pseudonym, erased.wal_cleared)
    return Response(status_code=204)


@router.post(
    "/v1/people/{person_id}/cards", openapi_extra=STAFF, response_model=PersonOut, status_code=201
)
def api_add_card(
    request: Request, context: Context, user: CurrentUser, person_id: RowId, body: CardIn
) -> PersonOut:
    """Register a card in its Wiegand format; 404 for an unknown or erased person."""
    actor = actor_of(request, user)
    try:
        credentials(context).add_card(
            person_id, body.facility, body.number, body.format_bits, actor
        )
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except CardFormatError as error:
        raise HTTPException(422, f"card_format_invalid: {error}") from None
    except DuplicateCard:
        raise HTTPException(409, "duplicate_card") from None
    return _person_out(context, person_id)


@router.put("/v1/people/{person_id}/pin", openapi_extra=STAFF, status_code=204)
def api_set_pin(
    request: Request, context: Context, user: CurrentUser, person_id: RowId, body: PinIn
) -> Response:
    """Set the PIN typed at the keypad as `# <person id> # <PIN> #`."""
    try:
        credentials(context).set_pin(person_id, body.pin, actor_of(request, user))
    except NotFound:
        raise HTTPException(404, "not_found") from None
    return Response(status_code=204)


@router.put("/v1/people/{person_id}/two-factor", openapi_extra=STAFF, response_model=PersonOut)
def api_set_two_factor(
    request: Request, context: Context, user: CurrentUser, person_id: RowId, body: TwoFactorIn
) -> PersonOut:
    """Require (or stop requiring) a second credential: face + PIN/card, card + PIN."""
    try:
        credentials(context).set_two_factor(person_id, body.required, actor_of(request, user))
    except NotFound:
        raise HTTPException(404, "not_found") from None
    return _person_out(context, person_id)


def _person_out(context: AppContext, person_id: int) -> PersonOut:
    with context.deps.store.sessions.reading() as session:
        return person_out(person_row(session, get_person(session, person_id), _model(context)))


@router.get("/v1/events", openapi_extra=STAFF, response_model=list[EventOut])
def api_events(
    context: Context,
    since: datetime | None = None,
    until: datetime | None = None,
    person: Search = "",
    door: Search = "",
    method: Method | None = None,
    verdict: Verdict | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[EventOut]:
    timezone = context.deps.gateway_config.site.timezone
    wanted = EventFilter(
        since=None if since is None else localise(since, timezone),
        until=None if until is None else localise(until, timezone),
        person=person,
        door=door,
        method=method,
        verdict=verdict,
        limit=limit,
    )
    rows = EventsQuery(context.deps.store).events(wanted)
    return [
        EventOut(
            id=str(r.event.id),
            occurred_at=r.event.occurred_at,
            door=r.door_code,
            method=r.event.method.value,
            verdict=r.event.verdict.value,
            reason=r.event.reason_code,
            person=r.person_label,
            score=r.event.score,
            call_id=r.event.call_id,
        )
        for r in rows
    ]


@router.get("/v1/alerts", openapi_extra=STAFF, response_model=list[AlertOut])
def api_alerts(context: Context, open_only: bool = False, kind: Search = "") -> list[AlertOut]:
    alerts = EventsQuery(context.deps.store).alerts(open_only=open_only, kind=kind)
    return [
        AlertOut(
            id=a.id,
            kind=a.kind,
            severity=a.severity.value,
            occurred_at=a.occurred_at,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
        )
        for a in alerts
    ]


@router.post("/v1/alerts/{alert_id}/ack", openapi_extra=STAFF, status_code=204)
def api_ack(request: Request, context: Context, user: CurrentUser, alert_id: RowId) -> Response:
    with context.deps.store.sessions.writing() as session:
        if not acknowledge_alert(session, alert_id, user.username, context.deps.clock()):
            raise HTTPException(404, "not_found")
        audit(session, request, user, "acknowledge_alert", f"alert:{alert_id}")
    return Response(status_code=204)


@router.post("/v1/codes", openapi_extra=STAFF, response_model=CodeOut, status_code=201)
def api_issue_code(
    request: Request, context: Context, user: CurrentUser, body: CodeRequestIn
) -> CodeOut:
    timezone = context.deps.gateway_config.site.timezone
    start, end = localise(body.valid_from, timezone), localise(body.valid_until, timezone)
    ask = CodeRequest(UnitRef(body.unit_number, body.room_number), start, end, body.max_uses)
    try:
        issued = visitor_codes(context).issue(ask, actor_of(request, user))
    except CodeRefused as refused:
        raise HTTPException(404 if refused.code == "unknown_unit" else 422, refused.code) from None
    return CodeOut(id=issued.code_id, code=issued.code)


@router.post("/v1/codes/{code_id}/revoke", openapi_extra=STAFF, status_code=204)
def api_revoke_code(
    request: Request, context: Context, user: CurrentUser, code_id: RowId
) -> Response:
    try:
        visitor_codes(context).revoke(code_id, actor_of(request, user))
    except CodeRefused:
        raise HTTPException(404, "not_found") from None
    return Response(status_code=204)


@router.get("/v1/watchlist", openapi_extra=STAFF, response_model=list[WatchOut])
def api_watchlist(context: Context) -> list[WatchOut]:
    with context.deps.store.sessions.reading() as session:
        entries = session.scalars(select(WatchlistEntry).order_by(WatchlistEntry.external_id))
        return [
            WatchOut(
                external_id=e.external_id,
                category=e.category,
                model_id=e.model_id,
                version=e.version,
                updated_at=e.updated_at,
            )
            for e in entries
        ]
