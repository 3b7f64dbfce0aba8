"""Visitor codes: issue for a unit with a time window and a use count (shown once, with a
print view), list, and revoke."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from gateway.application.visitor_codes import CodeRefused, CodeRequest, UnitRef, VisitorCodes
from gateway.store.schema_credentials import VisitorCode
from gateway.store.schema_people import Building, Unit
from provisioning.people_service import local_text, localise
from provisioning.qr import qr_svg
from provisioning.web import (
    Access,
    AppContext,
    Context,
    CurrentUser,
    RowId,
    access,
    actor_of,
    render,
    translator,
)

router = APIRouter()
STAFF = access(Access.STAFF)


def visitor_codes(context: AppContext) -> VisitorCodes:
    return VisitorCodes(context.deps.store, context.door_id, context.deps.clock)


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
    max_uses: Annotated[int, Form()] = 1,
) -> Response:
    timezone = context.deps.gateway_config.site.timezone
    start, end = localise(valid_from, timezone), localise(valid_until, timezone)
    t = translator(request)
    ask = CodeRequest(UnitRef(unit_number, room_number), start, end, max_uses)
    try:
        issued = visitor_codes(context).issue(ask, actor_of(request, user))
    except CodeRefused as refused:
        detail = t("unit") if refused.code == "unknown_unit" else str(refused)
        return codes_page(request, context, {"errors": [t("bad_input") + " " + detail]}, 400)
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
    with contextlib.suppress(CodeRefused):  # an unknown code: nothing to revoke
        visitor_codes(context).revoke(code_id, actor_of(request, user))
    return RedirectResponse("/codes", status_code=303)
