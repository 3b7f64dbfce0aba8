"""What the routes need, handed over explicitly (no globals): the database, the authenticator,
the live feed, the command sender (None without a signing key), the templates and settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from provisioning.i18n import Translator, pick_language
from station_console.command_sender import CommandSender
from station_console.config import ConsoleConfig
from station_console.db import Database
from station_console.live import LiveFeed
from station_console.web.auth import Authenticator, Principal
from station_console.web.i18n import console_texts

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "sc_session"


class LoginRequired(Exception):
    """Raised by `principal`; the app turns it into a redirect to /login."""


@dataclass
class ConsoleDeps:
    config: ConsoleConfig
    database: Database
    auth: Authenticator
    feed: LiveFeed
    sender: CommandSender | None
    templates: Jinja2Templates

    @classmethod
    def build(
        cls,
        config: ConsoleConfig,
        database: Database,
        feed: LiveFeed,
        sender: CommandSender | None,
    ) -> ConsoleDeps:
        templates = Jinja2Templates(directory=str(HERE / "templates"))
        return cls(config, database, Authenticator(database, config.web), feed, sender, templates)

    def principal(self, request: Request) -> Principal:
        found = self.auth.resolve(request.cookies.get(SESSION_COOKIE), now())
        if found is None:
            raise LoginRequired
        return found

    def require(self, request: Request, role: str) -> Principal:
        principal = self.principal(request)
        if not principal.may(role):
            raise HTTPException(403, texts(request)("forbidden"))
        return principal

    def render(
        self, request: Request, name: str, principal: Principal | None, **context: Any
    ) -> Response:
        return self.templates.TemplateResponse(
            request,
            name,
            {
                "t": texts(request),
                "me": principal,
                "csrf": principal.csrf_token if principal else "",
            }
            | context,
        )


def now() -> datetime:
    return datetime.now(UTC)


def texts(request: Request) -> Translator:
    return console_texts(pick_language(request.cookies.get("lang"), request))


def check_csrf(principal: Principal, submitted: str | None, request: Request) -> None:
    if not submitted or not secrets.compare_digest(submitted, principal.csrf_token):
        raise HTTPException(403, texts(request)("csrf_failed"))


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None
