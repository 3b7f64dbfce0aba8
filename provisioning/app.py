"""`create_app(deps)`: the staff page as one FastAPI app, deny by default, all assets local.

On creation it makes its tables, and when no account exists yet it issues the one-time setup
token and announces it (log and console). Cross-cutting behaviour lives in middleware: the upload
gate (login before any body, size, time and concurrency limits: `upload_gate`), the anonymous CSRF
cookie and the security headers. A date outside the supported years is a 422, never a 500.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from gateway.runtime.bootstrap import ensure_door
from provisioning import (
    people_csv,
    routes_account,
    routes_admin,
    routes_api,
    routes_auth,
    routes_codes,
    routes_credentials,
    routes_dashboard,
    routes_enrol,
    routes_events,
    routes_people,
)
from provisioning.auth import Authenticator, SetupToken
from provisioning.deps import ProvisioningDeps
from provisioning.site_time import DateOutOfRange
from provisioning.upload_gate import UploadGate
from provisioning.web import (
    PRE_COOKIE,
    TEMPLATE_DIR,
    AppContext,
    guard,
    render,
    translator,
)

STATIC_DIR = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        code = str(error.detail)
        if _wants_html(request):
            if error.status_code == 401:
                target = f"/login?next={request.url.path}&msg=login_required"
                return RedirectResponse(target, status_code=303)
            return render(
                request,
                "error.html",
                {"message": translator(request)(code), "code": error.status_code},
                error.status_code,
            )
        message = translator(request)(code)
        return JSONResponse({"detail": code, "message": message}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        ]
        if _wants_html(request):
            message = translator(request)("bad_input") + " " + "; ".join(problems)
            return render(request, "error.html", {"message": message, "code": 422}, 422)
        return JSONResponse({"detail": "bad_input", "problems": problems}, status_code=422)

    @app.exception_handler(DateOutOfRange)
    async def date_out_of_range(request: Request, error: DateOutOfRange) -> Response:
        message = translator(request)("date_out_of_range") + f" ({error})"
        if _wants_html(request):
            return render(request, "error.html", {"message": message, "code": 422}, 422)
        return JSONResponse({"detail": "date_out_of_range", "message": message}, 422)


def create_app(deps: ProvisioningDeps) -> FastAPI:
    """Build the staff page over explicit dependencies (store, pipeline, config, providers)."""
    templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
    door_id = deps.door_id
    if door_id is None:
        with deps.store.sessions.writing() as session:
            door_id = ensure_door(session, deps.gateway_config.site)
    context = AppContext(
        deps=deps,
        auth=Authenticator(deps.store.sessions, deps.settings),
        setup_token=SetupToken(),
        templates=templates,
        door_id=door_id,
    )
    app = FastAPI(
        title="menwei staff API",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(guard)],
    )
    app.state.context = context
    for module in (
        routes_auth,
        routes_dashboard,
        people_csv,
        routes_people,
        routes_enrol,
        routes_credentials,
        routes_codes,
        routes_events,
        routes_admin,
        routes_account,
        routes_api,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _install_error_pages(app)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        fresh = None
        if PRE_COOKIE not in request.cookies:
            fresh = secrets.token_urlsafe(24)
            request.scope["menwei_pre"] = fresh
        response: Response = await call_next(request)
        if fresh is not None:
            response.set_cookie(
                PRE_COOKIE, fresh, httponly=True, secure=True, samesite="strict", path="/"
            )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def signed_in(token: str) -> bool:
        principal = await anyio.to_thread.run_sync(context.auth.resolve, token, deps.clock())
        return principal is not None

    app.add_middleware(
        UploadGate,
        settings=lambda: context.deps.settings,
        signed_in=signed_in,
        counters=context.counters,
    )
    if not context.auth.has_accounts():
        token = context.setup_token.issue()
        message = f"menwei staff page: first start, no account yet. One-time setup token: {token}"
        deps.announce(message)
        print(message, file=sys.stderr, flush=True)
    return app
