"""Visitor calls on the console: a call's state, the ringing caller's snapshot, and answering.

`POST /calls/{call_id}/answer` (operator or admin, CSRF): `answer` = accept | decline, optional
`by` = `resident:<external id>` when the operator relays a resident's answer (the gateway then
checks that resident like a resident remote open); otherwise the answer is issued as
`station:<operator>`. It is a signed `answer_call` (`CommandSender`: Ed25519, nonce, expiry)
to the call's own gateway and door, audited, and its command id is kept on the call so the board
shows the gateway's result. A call that is not ringing, a bad answer or a bad `by` opens nothing:
400/409 with the reason, audited as `call_answer_refused`.
"""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from gateway.access.requester import parse_requester
from station_console.calls import CALL_ID, RINGING, call_dict, note_answer
from station_console.schema import CallRow
from station_console.web.auth import Principal, audit
from station_console.web.deps import ConsoleDeps, check_csrf, client_address, now, texts

ANSWERS = ("accept", "decline")


def answered_by(principal: Principal, by: str) -> str:
    """`issued_by` of the answer: the relayed resident, or the operator at the station."""
    by = by.strip()
    if not by:
        return f"station:{principal.username}"
    if not by.startswith("resident:") or parse_requester(by) is None:
        raise ValueError("by must be empty or resident:<external id>")
    return by


def calls_router(deps: ConsoleDeps) -> APIRouter:
    router = APIRouter()

    def refuse(
        request: Request, principal: Principal, call_id: str, status: int, why: str
    ) -> NoReturn:
        with deps.database.session() as session:
            audit(
                session,
                principal.username,
                "call_answer_refused",
                f"call:{call_id[:40]}",
                now(),
                detail=why,
                source=client_address(request),
            )
        raise HTTPException(status, texts(request)("bad_input", why=why))

    @router.get("/calls/{call_id}")
    def state(request: Request, call_id: str) -> dict[str, Any]:
        """The call as the board shows it (the board catches up with what it missed)."""
        deps.principal(request)
        with deps.database.session() as session:
            row = session.get(CallRow, call_id)
            if row is None:
                raise HTTPException(404, "no such call")
            return call_dict(row)

    @router.get("/calls/{call_id}/snapshot.jpg")
    def snapshot(request: Request, call_id: str) -> Response:
        deps.principal(request)
        with deps.database.session() as session:
            row = session.get(CallRow, call_id)
            jpeg = None if row is None else row.snapshot
        if jpeg is None:
            raise HTTPException(404, "no snapshot (the call ended)")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @router.post("/calls/{call_id}/answer")
    def answer(
        request: Request,
        call_id: str,
        csrf: str = Form(""),
        answer: str = Form(""),
        by: str = Form(""),
    ) -> Response:
        principal = deps.require(request, "operator")
        check_csrf(principal, csrf, request)
        if deps.sender is None:
            raise HTTPException(503, texts(request)("no_key"))
        if CALL_ID.fullmatch(call_id) is None or answer not in ANSWERS:
            refuse(request, principal, call_id, 400, "answer must be accept or decline")
        try:
            issued_by = answered_by(principal, by)
        except ValueError as error:
            refuse(request, principal, call_id, 400, str(error))
        with deps.database.session() as session:
            row = session.get(CallRow, call_id)
            target = None if row is None else (row.site, row.gateway, row.door, row.state)
        if target is None or target[3] != RINGING:
            refuse(request, principal, call_id, 409, "the call is not ringing")
        site, gateway, door, _ = target
        args = {"call_id": call_id, "answer": answer} | ({"door": door} if door else {})
        command_id = deps.sender.send(
            site=site, gateway=gateway, name="answer_call", args=args, issued_by=issued_by
        )
        with deps.database.session() as session:
            note_answer(session, call_id, command_id)
            audit(
                session,
                principal.username,
                "call_answer",
                f"call:{call_id}",
                now(),
                detail=f"{answer} as {issued_by}, command {command_id}",
                source=client_address(request),
            )
        deps.feed.publish({"event": "call_answer", "call_id": call_id, "command_id": command_id})
        return RedirectResponse(f"/#call-{call_id}", status_code=303)

    return router
