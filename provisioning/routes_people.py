"""People pages: list, create, edit (refusing stale forms), deactivate, erasure; the person page
shows credentials, the two-factor setting and how many good face templates the person has
(cards, PIN and two factors are changed in routes_credentials)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.application.erasure import ErasureRefused, PersonErasure
from gateway.store.errors import NotFound
from gateway.store.people import get_person
from gateway.store.schema_credentials import Card
from provisioning.erase_outcome import settle_erasure
from provisioning.people_service import (
    MIN_GOOD_TEMPLATES,
    PersonInput,
    StaleEdit,
    create_person,
    list_people,
    local_text,
    person_row,
    update_person,
)
from provisioning.web import (
    Access,
    AppContext,
    Context,
    CurrentUser,
    RowId,
    access,
    actor_of,
    audit,
    render,
    translator,
)

router = APIRouter()
STAFF = access(Access.STAFF)
ADMIN = access(Access.ADMIN)
PERSON_FIELDS = (
    "external_id",
    "display_name",
    "role",
    "building",
    "unit_number",
    "room_number",
    "valid_from",
    "valid_until",
)


def running_model(context: AppContext) -> str | None:
    """The running embedder's model id (whose templates count as good), if models are loaded."""
    pipeline = context.deps.pipeline
    return None if pipeline is None else pipeline.model_id


def form_errors(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in item['loc']) or 'form'}: {item['msg']}"
        for item in error.errors()
    ]


async def person_form(request: Request) -> tuple[dict[str, Any], str]:
    form = await request.form()
    values: dict[str, Any] = {k: str(form.get(k, "")) for k in PERSON_FIELDS}
    values["active"] = form.get("active") == "on"
    return values, str(form.get("version", ""))


@router.get("/people", openapi_extra=STAFF, include_in_schema=False)
def people_page(request: Request, context: Context, q: str = "", msg: str = "") -> Response:
    with context.deps.store.sessions.reading() as session:
        rows = list_people(session, q[:100], model_id=running_model(context))
    page = {"rows": rows, "q": q, "msg": msg, "min_templates": MIN_GOOD_TEMPLATES}
    return render(request, "people.html", page)


@router.get("/people/new", openapi_extra=STAFF, include_in_schema=False)
def new_person_page(request: Request, context: Context) -> Response:
    now = local_text(context.deps.clock(), context.deps.gateway_config.site.timezone)
    values = {"role": "owner", "valid_from": now, "active": True}
    return render(request, "person_new.html", {"values": values, "errors": []})


@router.post("/people/new", openapi_extra=STAFF, include_in_schema=False)
async def create_person_submit(request: Request, context: Context, user: CurrentUser) -> Response:
    values, _version = await person_form(request)
    errors: list[str] = []
    try:
        data = PersonInput.model_validate(values)
        with context.deps.store.sessions.writing() as session:
            person = create_person(
                session, context.door_id, data, context.deps.gateway_config.site.timezone
            )
            audit(session, request, user, "create_person", f"person:{person.id}")
            person_id = person.id
    except ValidationError as error:
        errors = form_errors(error)
    except IntegrityError:
        errors = [render_key(request, "duplicate_external_id")]
    if errors:
        return render(request, "person_new.html", {"values": values, "errors": errors}, 400)
    return RedirectResponse(f"/people/{person_id}", status_code=303)


def render_key(request: Request, key: str) -> str:
    return translator(request)(key)


def person_page(
    request: Request, context: Context, person_id: RowId, extra: dict[str, Any], status: int = 200
) -> Response:
    timezone = context.deps.gateway_config.site.timezone
    with context.deps.store.sessions.reading() as session:
        try:
            row = person_row(session, get_person(session, person_id), running_model(context))
        except NotFound:
            raise HTTPException(404, "not_found") from None
        cards = list(session.scalars(select(Card).where(Card.person_id == person_id)))
    person = row.person
    values = extra.pop("values", None) or {
        "external_id": person.external_id,
        "display_name": person.display_name or "",
        "role": person.role.value,
        "building": row.building,
        "unit_number": row.unit.unit_number if row.unit else "",
        "room_number": row.unit.room_number if row.unit else "",
        "valid_from": local_text(person.valid_from, timezone),
        "valid_until": local_text(person.valid_until, timezone),
        "active": person.active,
    }
    page = {
        "row": row,
        "cards": cards,
        "values": values,
        "errors": [],
        "msg": request.query_params.get("msg", ""),
        "settings": context.deps.settings,
        "can_enrol": context.deps.pipeline is not None,
        "min_templates": MIN_GOOD_TEMPLATES,
        "second_factor_window_s": context.deps.gateway_config.access.second_factor.window_s,
        **extra,
    }
    return render(request, "person.html", page, status)


@router.get("/people/{person_id}", openapi_extra=STAFF, include_in_schema=False)
def person_detail(request: Request, context: Context, person_id: RowId) -> Response:
    return person_page(request, context, person_id, {})


@router.post("/people/{person_id}", openapi_extra=STAFF, include_in_schema=False)
async def person_update(
    request: Request, context: Context, user: CurrentUser, person_id: RowId
) -> Response:
    values, version = await person_form(request)
    try:
        data = PersonInput.model_validate(values)
        with context.deps.store.sessions.writing() as session:
            update_person(
                session,
                context.door_id,
                person_id,
                data,
                version,
                context.deps.gateway_config.site.timezone,
            )
            audit(session, request, user, "update_person", f"person:{person_id}")
        context.deps.people_changed()
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except ValidationError as error:
        extra = {"values": values, "errors": form_errors(error)}
        return person_page(request, context, person_id, extra, 400)
    except StaleEdit:
        extra = {"values": values, "errors": [render_key(request, "concurrent_edit")]}
        return person_page(request, context, person_id, extra, 409)
    except IntegrityError:
        extra = {"values": values, "errors": [render_key(request, "duplicate_external_id")]}
        return person_page(request, context, person_id, extra, 400)
    return RedirectResponse(f"/people/{person_id}", status_code=303)


@router.post("/people/{person_id}/active", openapi_extra=STAFF, include_in_schema=False)
def person_set_active(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    active: Annotated[bool, Form()],
) -> Response:
    with context.deps.store.sessions.writing() as session:
        try:
            person = get_person(session, person_id)
        except NotFound:
            raise HTTPException(404, "not_found") from None
        if person.erased_at is None:
            person.active = active
            action = "activate_person" if active else "deactivate_person"
            audit(session, request, user, action, f"person:{person_id}")
    context.deps.people_changed()
    return RedirectResponse(f"/people/{person_id}", status_code=303)


def erasure(context: AppContext) -> PersonErasure:
    deps = context.deps
    return PersonErasure(deps.store, deps.clock, deps.settings.photo_dir, deps.people_changed)


@router.post("/people/{person_id}/erase", openapi_extra=ADMIN, include_in_schema=False)
def person_erase(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    confirm: Annotated[str, Form(max_length=64)],
) -> Response:
    try:
        erased = erasure(context).erase(person_id, actor_of(request, user), confirm)
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except ErasureRefused:
        extra = {"errors": [render_key(request, "bad_input")]}
        return person_page(request, context, person_id, extra, 400)
    settle_erasure(context, request, user, erased.pseudonym, erased.wal_cleared)
    return RedirectResponse(f"/people?msg=erased_done&p={erased.pseudonym}", status_code=303)
