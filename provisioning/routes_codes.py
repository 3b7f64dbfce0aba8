"""Visitor codes: issue for a unit with a time window and a use count (shown once, with a
print view), list, and revoke."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.places import door_site
from gateway.store.schema_credentials import VisitorCode
from gateway.store.schema_people import Building, Door, Unit
from gateway.store.visitor_codes import issue_visitor_code, revoke_visitor_code
from provisioning.people_service import local_text, localise
from provisioning.qr import qr_svg
from provisioning.web import (
    Access,
    AppContext,
    Context,
    CurrentUser,
    RowId,
    access,
    audit,
    render,
    translator,
)

router = APIRouter()
STAFF = access(Access.STAFF)


def find_unit(session: Session, door_id: int, unit_number: str, room_number: str) -> Unit | None:
    door = session.get(Door, door_id)
    assert door is not None
    return session.scalars(
        select(Unit).where(
            Unit.building_id == door.building_id,
            Unit.unit_number == unit_number.strip(),
            Unit.room_number == room_number.strip(),
        )
    ).one_or_none()


def codes_page(
    request: Request, context: AppContext, extra: dict[str, object], status: int = 200
) -> Response:
    timezone = context.deps.gateway_config.site.timezone
    with context.deps.store.sessions.reading() as session:
        rows = session.execute(
            select(VisitorCode, Unit, Building)
            .join(Unit, Unit.id == VisitorCode.unit_id)
            .join(Building, Building.id == Unit.building_id)
            .order_by(VisitorCode.id.desc())
            .limit(200)
        ).all()
    now = context.deps.clock()
    defaults = {
        "valid_from": local_text(now, timezone),
        "valid_until": local_text(now + timedelta(hours=4), timezone),
        "max_uses": 1,
    }
    page = {"rows": rows, "defaults": defaults, "errors": [], "timezone": timezone, **extra}
    return render(request, "codes.html", page, status)


@router.get("/codes", openapi_extra=STAFF, include_in_schema=False)
def codes_list(request: Request, context: Context) -> Response:
    return codes_page(request, context, {})


@router.post("/codes", openapi_extra=STAFF, include_in_schema=False)
def codes_issue(
    request: Request,
    context: Context,
    user: CurrentUser,
    unit_number: Annotated[str, Form(min_length=1, max_length=16)],
    room_number: Annotated[str, Form(min_length=1, max_length=16)],
    valid_from: Annotated[datetime, Form()],
    valid_until: Annotated[datetime, Form()],
    max_uses: Annotated[int, Form(ge=1, le=100)] = 1,
) -> Response:
    timezone = context.deps.gateway_config.site.timezone
    start, end = localise(valid_from, timezone), localise(valid_until, timezone)
    t = translator(request)
    if end <= start:
        return codes_page(request, context, {"errors": [t("bad_input")]}, 400)
    with context.deps.store.sessions.writing() as session:
        unit = find_unit(session, context.door_id, unit_number, room_number)
        if unit is None:
            return codes_page(request, context, {"errors": [t("bad_input") + " " + t("unit")]}, 400)
        issued = issue_visitor_code(
            session,
            context.deps.store.codes,
            site_id=door_site(session, context.door_id).id,
            unit_id=unit.id,
            door_ids=[context.door_id],
            issued_by=user.username,
            issued_by_person_id=None,
            valid_from=start,
            valid_until=end,
            max_uses=max_uses,
        )
        audit(session, request, user, "issue_visitor_code", f"code:{issued.code_id}")
    page = {
        "code": issued.code,
        "code_id": issued.code_id,
        "unit": f"{unit_number}-{room_number}",
        "valid_from": local_text(start, timezone),
        "valid_until": local_text(end, timezone),
        "max_uses": max_uses,
        "qr_svg": Markup(qr_svg(issued.code)),  # geometry only, no user text inside
    }
    return render(request, "code_issued.html", page)


@router.post("/codes/{code_id}/revoke", openapi_extra=STAFF, include_in_schema=False)
def codes_revoke(request: Request, context: Context, user: CurrentUser, code_id: RowId) -> Response:
    with context.deps.store.sessions.writing() as session:
        if revoke_visitor_code(session, code_id):
            audit(session, request, user, "revoke_visitor_code", f"code:{code_id}")
    return RedirectResponse("/codes", status_code=303)
