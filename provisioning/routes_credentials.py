"""A person's credentials on the staff page: add a card (in its Wiegand format), set a PIN,
require two factors, remove a card (lost, returned) or the PIN, withdraw face consent.

Each route translates a form into one command of gateway.application.credentials, the use case
the JSON API shares (erased person -> 404 like an unknown one; the last card/PIN of someone with
face templates cannot be removed). Withdrawing consent deletes the face templates.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gateway.application.credentials import Credentials, DuplicateCard, LastCredential
from gateway.store.credentials import CardFormatError, withdraw_consent
from gateway.store.errors import NotFound
from provisioning.credential_forms import CardIn, PinIn
from provisioning.routes_people import form_errors, person_page
from provisioning.web import (
    Access,
    AppContext,
    Context,
    CurrentUser,
    RowId,
    access,
    actor_of,
    audit,
    translator,
)

router = APIRouter()
STAFF = access(Access.STAFF)


def credentials(context: AppContext) -> Credentials:
    return Credentials(context.deps.store, context.deps.clock)


def _back(person_id: int) -> Response:
    return RedirectResponse(f"/people/{person_id}", status_code=303)


def _removal(
    request: Request, context: AppContext, person_id: int, remove: Callable[[], None]
) -> Response:
    """Run a card/PIN removal; 404 for an unknown (or erased) person or credential, 409 with the
    page's message when it would leave the face as the only way in."""
    try:
        remove()
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except LastCredential:
        errors = [translator(request)("last_credential")]
        return person_page(request, context, person_id, {"errors": errors}, 409)
    return _back(person_id)


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
        credentials(context).add_card(
            person_id, card.facility, card.number, card.format_bits, actor_of(request, user)
        )
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except ValidationError as error:
        return person_page(request, context, person_id, {"errors": form_errors(error)}, 400)
    except CardFormatError as error:
        extra = {"errors": [t("card_format_invalid", detail=str(error))]}
        return person_page(request, context, person_id, extra, 400)
    except DuplicateCard:
        return person_page(request, context, person_id, {"errors": [t("duplicate_card")]}, 400)
    return _back(person_id)


@router.post("/people/{person_id}/pin", openapi_extra=STAFF, include_in_schema=False)
def person_set_pin(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    pin: Annotated[str, Form(pattern=r"^[0-9]{4,12}$")],
) -> Response:
    try:
        credentials(context).set_pin(person_id, PinIn(pin=pin).pin, actor_of(request, user))
    except NotFound:
        raise HTTPException(404, "not_found") from None
    return _back(person_id)


@router.post("/people/{person_id}/two-factor", openapi_extra=STAFF, include_in_schema=False)
def person_two_factor(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    required: Annotated[bool, Form()],
) -> Response:
    try:
        credentials(context).set_two_factor(person_id, required, actor_of(request, user))
    except NotFound:
        raise HTTPException(404, "not_found") from None
    return _back(person_id)


@router.post(
    "/people/{person_id}/cards/{card_id}/delete", openapi_extra=STAFF, include_in_schema=False
)
def card_delete(
    request: Request, context: Context, user: CurrentUser, person_id: RowId, card_id: RowId
) -> Response:
    actor = actor_of(request, user)
    return _removal(
        request,
        context,
        person_id,
        lambda: credentials(context).remove_card(person_id, card_id, actor),
    )


@router.post("/people/{person_id}/pin/delete", openapi_extra=STAFF, include_in_schema=False)
def pin_delete(request: Request, context: Context, user: CurrentUser, person_id: RowId) -> Response:
    commands, actor = credentials(context), actor_of(request, user)
    return _removal(request, context, person_id, lambda: commands.remove_pin(person_id, actor))


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
