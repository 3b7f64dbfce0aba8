"""Commands from the console: remote open, visitor code, push watch list / people.

Each is signed with the station's key (`CommandSender`, key from its file), issued as
`station:<operator>`, audited, and listed with the gateway's result when it arrives. A visitor
code's digits are shown once to the operator and never stored.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from station_console.queries import recent_commands
from station_console.schema import CommandRow
from station_console.web.auth import audit
from station_console.web.deps import ConsoleDeps, check_csrf, client_address, now, texts

CONSOLE_COMMANDS = ("open", "issue_code", "sync_watchlist", "sync_people")


def _args(name: str, unit: str, valid_hours: float, code: str, delta: str) -> dict[str, Any]:
    """The command's args from the form; ValueError with a reason for bad input."""
    if name == "open":
        return {}
    if name == "issue_code":
        parts = unit.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError("unit must be BUILDING/UNIT/ROOM")
        if not code.isdigit() or not 4 <= len(code) <= 12:
            raise ValueError("code must be 4 to 12 digits")
        if not 0 < valid_hours <= 24 * 30:
            raise ValueError("valid hours must be within 30 days")
        return {
            "code": code,
            "unit": {"building": parts[0], "unit_number": parts[1], "room_number": parts[2]},
            "valid_until": (datetime.now(UTC) + timedelta(hours=valid_hours)).isoformat(),
            "max_uses": 1,
        }
    try:
        document = json.loads(delta)
    except ValueError as error:
        raise ValueError("the delta is not JSON") from error
    if not isinstance(document, dict) or "version" not in document:
        raise ValueError("the delta must be an object with from_version and version")
    return document


def commands_router(deps: ConsoleDeps) -> APIRouter:
    router = APIRouter()

    def page(request: Request, **extra: Any) -> Response:
        principal = deps.principal(request)
        with deps.database.session() as session:
            rows = recent_commands(session)
        return deps.render(
            request,
            "commands.html",
            principal,
            rows=rows,
            names=CONSOLE_COMMANDS,
            can_send=principal.may("operator") and deps.sender is not None,
            has_key=deps.sender is not None,
            **extra,
        )

    @router.get("/commands")
    def commands(request: Request) -> Response:
        return page(request)

    @router.get("/commands/{command_id}/result")
    def result(request: Request, command_id: str) -> dict[str, Any]:
        """The gateway's answer so far (polled and pushed to the commands page)."""
        deps.principal(request)
        t = texts(request)
        with deps.database.session() as session:
            row = session.get(CommandRow, command_id)
        if row is None or row.result_ok is None:
            return {"done": False, "text": t("waiting")}
        verdict = t("ok") if row.result_ok else f"{t('failed')}: {row.result_error}"
        return {"done": True, "ok": row.result_ok, "text": f"{verdict} {row.result_message or ''}"}

    @router.post("/commands")
    def send(
        request: Request,
        csrf: str = Form(""),
        name: str = Form(""),
        target: str = Form(""),
        unit: str = Form(""),
        valid_hours: float = Form(24.0),
        code: str = Form(""),
        delta: str = Form(""),
    ) -> Response:
        principal = deps.require(request, "operator")
        check_csrf(principal, csrf, request)
        t = texts(request)
        if deps.sender is None:
            return page(request, error=t("no_key"))
        site, _, gateway = target.strip().partition("/")
        try:
            if name not in CONSOLE_COMMANDS or not site or not gateway:
                raise ValueError("choose a command and a target SITE/GATEWAY")
            if name == "issue_code" and not code:
                code = f"{secrets.randbelow(10**6):06d}"
            args = _args(name, unit.strip(), valid_hours, code.strip(), delta)
            command_id = deps.sender.send(
                site=site,
                gateway=gateway,
                name=name,
                args=args,
                issued_by=f"station:{principal.username}",
            )
        except ValueError as error:
            return page(request, error=t("bad_input", why=str(error)))
        with deps.database.session() as session:
            audit(
                session,
                principal.username,
                f"command_{name}",
                f"gateway:{site}/{gateway}",
                now(),
                detail=command_id,
                source=client_address(request),
            )
        shown_code = code if name == "issue_code" else None
        return page(request, sent=command_id, shown_code=shown_code)

    return router
