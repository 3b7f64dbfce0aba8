"""Request plumbing shared by every route: access levels, the deny-by-default guard, CSRF,
the per-app context, page rendering and the audit helper.

Every route declares its access level in `openapi_extra` (see `access`); the app-wide `guard`
dependency refuses any route that declares none, so a forgotten route is closed, not open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path as FilePath
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from gateway.application.actor import Actor
from gateway.store.alerts_audit import append_audit
from provisioning.auth import Authenticator, Principal, SetupToken
from provisioning.counters import WebCounters
from provisioning.deps import ProvisioningDeps
from provisioning.enrol_session import PendingEnrolments
from provisioning.i18n import Translator, pick_language
from provisioning.photo_limits import PhotoWorker

ACCESS_KEY = "x-menwei-access"
# A JSON-only route may skip the CSRF token: browsers cannot send application/json cross-site
# without a CORS preflight, which this app never answers. Only the API login uses it.
JSON_LOGIN_KEY = "x-menwei-json-login"
SESSION_COOKIE = "menwei_session"
PRE_COOKIE = "menwei_pre"
LANG_COOKIE = "menwei_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TEMPLATE_DIR = FilePath(__file__).parent / "templates"


class Access(StrEnum):
    PUBLIC = "public"
    STAFF = "staff"
    ADMIN = "admin"


def access(level: Access) -> dict[str, Any]:
    """The `openapi_extra` of a route: its access level (also documented in the OpenAPI)."""
    return {ACCESS_KEY: level.value}


@dataclass
class AppContext:
    """Per-app state: the deps plus what the app builds from them at start."""

    deps: ProvisioningDeps
    auth: Authenticator
    setup_token: SetupToken
    templates: Jinja2Templates
    door_id: int
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    enrolments: PendingEnrolments = field(default_factory=PendingEnrolments)
    counters: WebCounters = field(default_factory=WebCounters)
    photo_worker: PhotoWorker = field(default_factory=PhotoWorker)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


def anonymous_csrf(context: AppContext, request: Request) -> str:
    pre = request.scope.get("menwei_pre") or request.cookies.get(PRE_COOKIE, "")
    return hmac.new(context.secret, str(pre).encode(), hashlib.sha256).hexdigest()


def csrf_token_for(request: Request) -> str:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal.csrf_token
    return anonymous_csrf(get_context(request), request)


async def guard(request: Request) -> None:
    """App-wide dependency: resolve the session, enforce the route's level, check CSRF."""
    context = get_context(request)
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    level = extra.get(ACCESS_KEY)
    principal = context.auth.resolve(request.cookies.get(SESSION_COOKIE), context.deps.clock())
    request.state.principal = principal
    if level not in {a.value for a in Access}:
        raise HTTPException(403, "no_access_rule")
    if level != Access.PUBLIC:
        if principal is None:
            raise HTTPException(401, "login_required")
        if level == Access.ADMIN and not principal.is_admin:
            raise HTTPException(403, "admin_only")
    json_login = extra.get(JSON_LOGIN_KEY) is True and request.headers.get(
        "content-type", ""
    ).startswith("application/json")
    if request.method not in SAFE_METHODS and not json_login:
        await _check_csrf(request, context)


async def _check_csrf(request: Request, context: AppContext) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    expected = csrf_token_for(request)
    if not sent or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "csrf_failed")


def principal_of(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # the guard already refused; this is a programming error
        raise HTTPException(401, "login_required")
    return principal


CurrentUser = Annotated[Principal, Depends(principal_of)]
# Row ids in paths: positive and within SQLite's 64-bit INTEGER (larger ones are a clean 422).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def translator(request: Request) -> Translator:
    return Translator(pick_language(request.cookies.get(LANG_COOKIE), request))


def local_time_formatter(timezone: str) -> Callable[[datetime], str]:
    """Times on the pages are in the site's time zone (the store keeps UTC)."""
    zone = ZoneInfo(timezone)

    def local(value: datetime) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    return local


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    app_context = get_context(request)
    values = {
        "principal": getattr(request.state, "principal", None),
        "csrf_token": csrf_token_for(request),
        "t": translator(request),
        "site": app_context.deps.gateway_config.site,
        "local": local_time_formatter(app_context.deps.gateway_config.site.timezone),
        **context,
    }
    response: HTMLResponse = app_context.templates.TemplateResponse(
        request, name, values, status_code=status_code
    )
    return response


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def actor_of(request: Request, principal: Principal | str) -> Actor:
    """The staff account behind a request, as the application layer's audit rows name it."""
    name = principal if isinstance(principal, str) else principal.username
    return Actor(name, client_address(request))


def audit(
    session: Session, request: Request, principal: Principal | str, action: str, target: str
) -> None:
    """Append who did what to which target, when and from where (same transaction as the change)."""
    actor = principal if isinstance(principal, str) else principal.username
    append_audit(
        session,
        actor=actor,
        action=action,
        target=target[:200],
        occurred_at=get_context(request).deps.clock(),
        source_address=client_address(request),
    )
