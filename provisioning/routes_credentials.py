"""A person's credentials on the staff page: add a card (in its Wiegand format), set a PIN,
require two factors, remove a card (lost, returned) or the PIN, withdraw face consent.

Adding goes through provisioning.credential_service, the use case the API shares: an erased
person gets 404 like an unknown one. The last card/PIN of someone who has face templates cannot be
removed: the face must never become the only way in (the store's rule). Withdrawing consent
deletes the face templates.
"""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.store.credentials import CardFormatError, withdraw_consent
from gateway.store.errors import NotFound
from gateway.store.schema_credentials import Card, FaceTemplate, Pin
from provisioning.credential_service import (
    CardIn,
    PinIn,
    TwoFactorIn,
    add_card_for,
    live_person,
    set_pin_for,
    set_two_factor_for,
)
from provisioning.routes_people import form_errors, person_page
from provisioning.web import Access, Context, CurrentUser, RowId, access, audit, translator

router = APIRouter()
STAFF = access(Access.STAFF)


class LastCredential(Exception):
    """Removing this would leave face templates as the only credential."""


def _credentials_left(session: Session, person_id: int) -> int:
    cards = session.scalar(select(func.count()).where(Card.person_id == person_id)) or 0
    pins = session.scalar(select(func.count()).where(Pin.person_id == person_id)) or 0
    return int(cards) + int(pins)


def _check_not_last(session: Session, person_id: int) -> None:
    templates = session.scalar(select(func.count()).where(FaceTemplate.person_id == person_id))
    if templates and _credentials_left(session, person_id) <= 1:
        raise LastCredential


def remove_card(session: Session, person_id: int, card_id: int) -> bool:
    live_person(session, person_id)
    card = session.get(Card, card_id)
    if card is None or card.person_id != person_id:
        return False
    _check_not_last(session, person_id)
    session.delete(card)
    session.flush()
    return True


def remove_pin(session: Session, person_id: int) -> bool:
    live_person(session, person_id)
    if session.get(Pin, person_id) is None:
        return False
    _check_not_last(session, person_id)
    session.execute(delete(Pin).where(Pin.person_id == person_id))
    return True


@router.post("/people/{person_id}/cards", openapi_extra=STAFF, include_in_schema=False)
def person_add_card(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    facility: Annotated[int, Form()],
    number: Annotated[int, Form()],
    format_bits: Annotated[int, Form()] = 26,
) -> Response:
    t = translator(request)
    try:
        card = CardIn.model_validate(
            {"facility": facility, "number": number, "format_bits": format_bits}
        )
        with context.deps.store.sessions.writing() as session:
            added = add_card_for(session, person_id, card)
            audit(
                session,
                request,
                user,
                "add_card",
                f"person:{person_id} card:{added.id} format:{added.format_bits}",
            )
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except ValidationError as error:
        return person_page(request, context, person_id, {"errors": form_errors(error)}, 400)
    except CardFormatError as error:
        extra = {"errors": [t("card_format_invalid", detail=str(error))]}
        return person_page(request, context, person_id, extra, 400)
    except IntegrityError:
        return person_page(request, context, person_id, {"errors": [t("duplicate_card")]}, 400)
    return RedirectResponse(f"/people/{person_id}", status_code=303)


@router.post("/people/{person_id}/pin", openapi_extra=STAFF, include_in_schema=False)
def person_set_pin(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    pin: Annotated[str, Form(pattern=r"^[0-9]{4,12}$")],
) -> Response:
    try:
        with context.deps.store.sessions.writing() as session:
            set_pin_for(session, person_id, PinIn(pin=pin))
            audit(session, request, user, "set_pin", f"person:{person_id}")
    except NotFound:
        raise HTTPException(404, "not_found") from None
    return RedirectResponse(f"/people/{person_id}", status_code=303)


@router.post("/people/{person_id}/two-factor", openapi_extra=STAFF, include_in_schema=False)
def person_two_factor(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    required: Annotated[bool, Form()],
) -> Response:
    try:
        with context.deps.store.sessions.writing() as session:
            if set_two_factor_for(session, person_id, TwoFactorIn(required=required)):
                action = "set_two_factor" if required else "clear_two_factor"
                audit(session, request, user, action, f"person:{person_id} source:staff")
    except NotFound:
        raise HTTPException(404, "not_found") from None
    return RedirectResponse(f"/people/{person_id}", status_code=303)


@router.post(
    "/people/{person_id}/cards/{card_id}/delete", openapi_extra=STAFF, include_in_schema=False
)
def card_delete(
    request: Request, context: Context, user: CurrentUser, person_id: RowId, card_id: RowId
) -> Response:
    try:
        with context.deps.store.sessions.writing() as session:
            if not remove_card(session, person_id, card_id):
                raise HTTPException(404, "not_found")
            audit(session, request, user, "remove_card", f"person:{person_id} card:{card_id}")
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except LastCredential:
        errors = [translator(request)("last_credential")]
        return person_page(request, context, person_id, {"errors": errors}, 409)
    return RedirectResponse(f"/people/{person_id}", status_code=303)


@router.post("/people/{person_id}/pin/delete", openapi_extra=STAFF, include_in_schema=False)
def pin_delete(request: Request, context: Context, user: CurrentUser, person_id: RowId) -> Response:
    try:
        with context.deps.store.sessions.writing() as session:
            if not remove_pin(session, person_id):
                raise HTTPException(404, "not_found")
            audit(session, request, user, "remove_pin", f"person:{person_id}")
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except LastCredential:
        errors = [translator(request)("last_credential")]
        return person_page(request, context, person_id, {"errors": errors}, 409)
    return RedirectResponse(f"/people/{person_id}", status_code=303)


@router.post("/people/{person_id}/consent/withdraw", openapi_extra=STAFF, include_in_schema=False)
def consent_withdraw(
    request: Request, context: Context, user: CurrentUser, person_id: RowId
) -> Response:
    with context.deps.store.sessions.writing() as session:
        deleted = withdraw_consent(session, person_id, context.deps.clock())
        audit(session, request, user, "withdraw_consent", f"person:{person_id} templates:{deleted}")
    shutil.rmtree(context.deps.settings.photo_dir / str(person_id), ignore_errors=True)
    context.deps.people_changed()
    return RedirectResponse(f"/people/{person_id}", status_code=303)
