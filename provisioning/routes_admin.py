"""Admin-only pages: settings (validated by GatewayConfig, audited), the audit log (read-only,
append-only in the database), staff accounts, and the TLS certificate upload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from gateway.application.config_apply import ConfigChangeRefused, read_setting
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_staff import StaffAccount, StaffRole
from provisioning.accounts import add_account, find_account, hash_password, password_problem
from provisioning.settings_form import apply_settings, setting_fields
from provisioning.tls import CertificateError, install_uploaded
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
ADMIN = access(Access.ADMIN)


def settings_page(
    request: Request, context: AppContext, extra: dict[str, object], status: int = 200
) -> Response:
    deps = context.deps
    page = {
        "fields": setting_fields(deps.gateway_config, deps.models),
        "errors": [],
        "msg": request.query_params.get("msg", ""),
        **extra,
    }
    return render(request, "settings.html", page, status)


@router.get("/settings", openapi_extra=ADMIN, include_in_schema=False)
def settings_view(request: Request, context: Context) -> Response:
    return settings_page(request, context, {})


@router.post("/settings", openapi_extra=ADMIN, include_in_schema=False)
async def settings_save(request: Request, context: Context, user: CurrentUser) -> Response:
    form = await request.form()
    submitted = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    deps = context.deps
    config, changed, errors = apply_settings(deps.gateway_config, submitted)
    if config is None:
        return settings_page(request, context, {"errors": errors}, 400)
    if not changed:
        return RedirectResponse("/settings?msg=settings_applied", status_code=303)
    values = {path: read_setting(config, path) for path in changed}
    try:
        applied = deps.changes.apply(values, base=deps.gateway_config, save=deps.save_config)
    except (OSError, RuntimeError, ConfigChangeRefused) as error:
        return settings_page(request, context, {"errors": [str(error)]}, 500)
    deps.gateway_config = applied.config  # the file's view, restart fields included
    own_table = applied.config.provisioning
    deps.settings = own_table  # this page re-reads its table: keep_photos, lockout... at once
    context.auth.settings = own_table
    with deps.store.sessions.writing() as session:
        for path, how in applied.fields.items():
            audit(session, request, user, "change_setting", f"{path} ({how})")
    msg = "settings_saved" if applied.needs_restart else "settings_applied"
    return RedirectResponse(f"/settings?msg={msg}", status_code=303)


@router.post("/settings/tls", openapi_extra=ADMIN, include_in_schema=False)
async def settings_tls(
    request: Request,
    context: Context,
    user: CurrentUser,
    certificate: UploadFile,
    private_key: UploadFile,
) -> Response:
    settings = context.deps.settings
    try:
        install_uploaded(
            settings.tls_cert,
            settings.tls_key,
            await certificate.read(),
            await private_key.read(),
        )
    except CertificateError:
        t = translator(request)
        return settings_page(request, context, {"errors": [t("tls_invalid")]}, 400)
    with context.deps.store.sessions.writing() as session:
        audit(session, request, user, "upload_tls_certificate", str(settings.tls_cert))
    return RedirectResponse("/settings?msg=tls_saved", status_code=303)


@router.get("/audit", openapi_extra=ADMIN, include_in_schema=False)
def audit_page(request: Request, context: Context) -> Response:
    with context.deps.store.sessions.reading() as session:
        entries = list(
            session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500))
        )
    return render(request, "audit.html", {"entries": entries})


def accounts_page(
    request: Request, context: AppContext, extra: dict[str, object], status: int = 200
) -> Response:
    with context.deps.store.sessions.reading() as session:
        accounts = list(session.scalars(select(StaffAccount).order_by(StaffAccount.username)))
    page = {"accounts": accounts, "errors": [], "msg": "", **extra}
    return render(request, "accounts.html", page, status)


@router.get("/accounts", openapi_extra=ADMIN, include_in_schema=False)
def accounts_view(request: Request, context: Context) -> Response:
    return accounts_page(request, context, {})


@router.post("/accounts", openapi_extra=ADMIN, include_in_schema=False)
def accounts_create(
    request: Request,
    context: Context,
    user: CurrentUser,
    username: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")],
    password: Annotated[str, Form(max_length=256)],
    role: Annotated[StaffRole, Form()],
) -> Response:
    t = translator(request)
    problem = password_problem(password, username, context.deps.settings.min_password_length)
    if problem is not None:
        return accounts_page(request, context, {"errors": [t(problem)]}, 400)
    password_hash = hash_password(password)  # before the transaction: never hash under a lock
    with context.deps.store.sessions.writing() as session:
        if find_account(session, username) is not None:
            return accounts_page(request, context, {"errors": [t("account_exists")]}, 400)
        account = add_account(session, username, password_hash, role, context.deps.clock())
        audit(session, request, user, "create_account", f"account:{account.id}:{role.value}")
    return RedirectResponse("/accounts", status_code=303)


@router.post("/accounts/{account_id}/active", openapi_extra=ADMIN, include_in_schema=False)
def accounts_set_active(
    request: Request,
    context: Context,
    user: CurrentUser,
    account_id: RowId,
    active: Annotated[bool, Form()],
) -> Response:
    with context.deps.store.sessions.writing() as session:
        account = session.get(StaffAccount, account_id)
        if account is not None and account.id != user.account_id:
            account.active = active
            if not active:
                context.auth.end_sessions_of(session, account_id)
            audit(session, request, user, "set_account_active", f"account:{account_id}:{active}")
    return RedirectResponse("/accounts", status_code=303)
