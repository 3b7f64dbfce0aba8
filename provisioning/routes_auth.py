"""Public pages: first-start setup with the one-time token, login, logout, language switch."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.store.schema_staff import StaffRole
from provisioning.accounts import account_count, add_account, hash_password, password_problem
from provisioning.web import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Access,
    Context,
    CurrentUser,
    access,
    audit,
    client_address,
    render,
)

router = APIRouter()
PUBLIC = access(Access.PUBLIC)


SAME_SITE_PATH = re.compile(r"^/(?![/\\])[A-Za-z0-9/_.~%?=&-]*$")


def _safe_next(target: str | None) -> str:
    """Only plain same-site paths are followed after login ("//host", "/\\host" are not)."""
    if target and SAME_SITE_PATH.fullmatch(target):
        return target
    return "/"


def set_session_cookie(response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
    )


@router.get("/setup", openapi_extra=PUBLIC, include_in_schema=False)
def setup_page(request: Request, context: Context) -> Response:
    if not context.setup_token.pending:
        return RedirectResponse("/login", status_code=303)
    return render(request, "setup.html", {"error": None})


@router.post("/setup", openapi_extra=PUBLIC, include_in_schema=False)
def setup_submit(
    request: Request,
    context: Context,
    token: Annotated[str, Form(max_length=200)],
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    password_again: Annotated[str, Form(max_length=256)],
) -> Response:
    settings = context.deps.settings
    username = username.strip()
    problem = password_problem(password, username, settings.min_password_length)
    if password != password_again:
        problem = "passwords_differ"
    if problem is None and not context.setup_token.pending:
        problem = "bad_setup_token"
    if problem is not None:
        return render(request, "setup.html", {"error": problem}, 400)
    password_hash = hash_password(password)  # before the transaction: never hash under a lock
    with context.deps.store.sessions.writing() as session:
        if account_count(session) > 0 or not context.setup_token.consume(token.strip()):
            return render(request, "setup.html", {"error": "bad_setup_token"}, 400)
        account = add_account(
            session, username, password_hash, StaffRole.ADMIN, context.deps.clock()
        )
        audit(session, request, username, "create_first_admin", f"account:{account.id}")
    return RedirectResponse("/login?msg=setup_done", status_code=303)


@router.get("/login", openapi_extra=PUBLIC, include_in_schema=False)
def login_page(request: Request, context: Context, next: str = "/", msg: str = "") -> Response:
    if context.setup_token.pending:
        return RedirectResponse("/setup", status_code=303)
    return render(request, "login.html", {"error": None, "next": _safe_next(next), "msg": msg})


@router.post("/login", openapi_extra=PUBLIC, include_in_schema=False)
def login_submit(
    request: Request,
    context: Context,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    result = context.auth.login(username, password, context.deps.clock(), client_address(request))
    if result.token is None:
        page = {"error": result.error, "next": _safe_next(next), "msg": ""}
        return render(request, "login.html", page, result.http_status)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, result.token, context.deps.settings.session_max_hours * 3600)
    return response


@router.post("/logout", openapi_extra=access(Access.STAFF), include_in_schema=False)
def logout(context: Context, user: CurrentUser) -> Response:
    context.auth.logout(user.session_digest)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{language}", openapi_extra=PUBLIC, include_in_schema=False)
def switch_language(language: str, back: str = "/") -> Response:
    if language not in ("zh", "en"):
        raise HTTPException(404, "not_found")
    response = RedirectResponse(_safe_next(back), status_code=303)
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="strict", path="/")
    return response


@router.get("/healthz", openapi_extra=PUBLIC, include_in_schema=False)
def healthz() -> HTMLResponse:
    return HTMLResponse("ok")
