"""Passwords: every account changes its own (current password required); an admin resets
another account's. Either way the account's other sessions end and the change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete, update

from gateway.store.schema_staff import StaffAccount, StaffSession
from provisioning.accounts import hash_password, password_problem, verify_password
from provisioning.routes_admin import accounts_page
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
Password = Annotated[str, Form(max_length=256)]


def account_page(
    request: Request, context: AppContext, extra: dict[str, object], status: int = 200
) -> Response:
    page = {"errors": [], "msg": request.query_params.get("msg", ""), **extra}
    return render(request, "account.html", page, status)


@router.get("/account", openapi_extra=access(Access.STAFF), include_in_schema=False)
def account_view(request: Request, context: Context) -> Response:
    return account_page(request, context, {})


@router.post("/account/password", openapi_extra=access(Access.STAFF), include_in_schema=False)
def change_own_password(
    request: Request,
    context: Context,
    user: CurrentUser,
    current: Password,
    password: Password,
    password_again: Password,
) -> Response:
    t = translator(request)
    problem = password_problem(password, user.username, context.deps.settings.min_password_length)
    if password != password_again:
        problem = "passwords_differ"
    # Argon2 runs outside any transaction: a write held across a hash would hold up the door.
    with context.deps.store.sessions.reading() as session:
        account = session.get(StaffAccount, user.account_id)
    if account is None or not verify_password(account, current):
        problem = "bad_credentials"
    if problem is not None or account is None:
        return account_page(request, context, {"errors": [t(problem or "error")]}, 400)
    new_hash = hash_password(password)
    with context.deps.store.sessions.writing() as session:
        session.execute(
            update(StaffAccount).where(StaffAccount.id == account.id).values(password_hash=new_hash)
        )
        session.execute(
            delete(StaffSession).where(
                StaffSession.account_id == account.id,
                StaffSession.token_hash != user.session_digest,
            )
        )
        audit(session, request, user, "change_password", f"account:{account.id}")
    return RedirectResponse("/account?msg=password_changed", status_code=303)


@router.post(
    "/accounts/{account_id}/password", openapi_extra=access(Access.ADMIN), include_in_schema=False
)
def reset_password(
    request: Request, context: Context, user: CurrentUser, account_id: RowId, password: Password
) -> Response:
    with context.deps.store.sessions.reading() as session:
        account = session.get(StaffAccount, account_id)
    if account is None:
        raise HTTPException(404, "not_found")
    problem = password_problem(
        password, account.username, context.deps.settings.min_password_length
    )
    if problem is not None:
        return accounts_page(request, context, {"errors": [translator(request)(problem)]}, 400)
    new_hash = hash_password(password)  # outside the transaction, like every Argon2 run
    with context.deps.store.sessions.writing() as session:
        session.execute(
            update(StaffAccount).where(StaffAccount.id == account_id).values(password_hash=new_hash)
        )
        context.auth.end_sessions_of(session, account_id)
        audit(session, request, user, "reset_password", f"account:{account_id}")
    return RedirectResponse("/accounts", status_code=303)
