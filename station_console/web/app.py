"""The console's FastAPI app: security headers, login/logout, language, and the page routers.

No CDN: the script and style sheet are served from `static/`; the Content-Security-Policy
allows only this origin. Every POST carries the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from station_console.web.deps import (
    HERE,
    SESSION_COOKIE,
    ConsoleDeps,
    LoginRequired,
    check_csrf,
    client_address,
    now,
)
from station_console.web.routes_board import board_router
from station_console.web.routes_calls import calls_router
from station_console.web.routes_commands import commands_router
from station_console.web.routes_search import search_router

CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def create_app(deps: ConsoleDeps) -> FastAPI:
    app = FastAPI(title="menwei station console", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, error: LoginRequired) -> Response:
        if request.url.path == "/stream" or request.method != "GET":
            return Response(status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.get("/login")
    def login_page(request: Request, failed: int = 0) -> Response:
        return deps.render(request, "login.html", None, failed=bool(failed))

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form("")) -> Response:
        token = deps.auth.login(username, password, now(), client_address(request))
        if token is None:
            return RedirectResponse("/login?failed=1", status_code=303)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=deps.config.web.secure_cookies,
        )
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        principal = deps.principal(request)
        check_csrf(principal, csrf, request)
        deps.auth.logout(principal)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/lang/{language}")
    def language(language: str, back: str = "/") -> Response:
        target = back if back.startswith("/") and not back.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        if language in ("zh", "en"):
            response.set_cookie("lang", language, samesite="strict")
        return response

    app.include_router(board_router(deps))
    app.include_router(search_router(deps))
    app.include_router(commands_router(deps))
    app.include_router(calls_router(deps))
    return app
