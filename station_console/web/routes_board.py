"""The live alert board (server-sent events), acknowledge and assign, snapshots, gateway health,
and the visitor calls (ringing ones with the caller's snapshot, recently ended ones with their
answer's result).

`/stream` sends `alert` (a new alert, committed), `gateway` (online/offline changed), `call` (a
call placed or changed), `call_answer` (an operator answered) and `result` (a command answered)
events; a comment every 15 s keeps proxies from closing it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import update
from starlette.responses import Response

from station_console.calls import call_dict, recent_calls
from station_console.health import all_health
from station_console.queries import alert_dict, open_alerts
from station_console.schema import AlertRow
from station_console.web.auth import audit
from station_console.web.deps import ConsoleDeps, check_csrf, client_address, now, texts

HEARTBEAT_S = 15.0
CALL_STATES = ("ringing", "accepted", "declined", "missed", "unresolved")


def board_router(deps: ConsoleDeps) -> APIRouter:
    router = APIRouter()

    @router.get("/")
    def board(request: Request) -> Response:
        principal = deps.principal(request)
        with deps.database.session() as session:
            alerts = [alert_dict(row) for row in open_alerts(session, deps.config.web.board_size)]
            health = all_health(session, now(), deps.config.gateways)
            since = now() - timedelta(minutes=deps.config.calls.board_minutes)
            calls = [call_dict(row) for row in recent_calls(session, since, 100)]
        offline = [h for h in health if not h.online]
        return deps.render(
            request,
            "board.html",
            principal,
            alerts=alerts,
            calls=calls,
            call_states={state: texts(request)(f"call_{state}") for state in CALL_STATES},
            offline=offline,
            online_count=len(health) - len(offline),
        )

    @router.get("/gateways")
    def gateways(request: Request) -> Response:
        principal = deps.principal(request)
        with deps.database.session() as session:
            health = all_health(session, now(), deps.config.gateways)
        return deps.render(request, "gateways.html", principal, health=health)

    @router.get("/stream")
    async def stream(request: Request) -> Response:
        deps.principal(request)
        queue = deps.feed.subscribe()

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    data = json.dumps(item, ensure_ascii=False)
                    yield f"event: {item['event']}\ndata: {data}\n\n".encode()
            finally:
                deps.feed.unsubscribe(queue)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @router.get("/alerts/{event_id}/snapshot.jpg")
    def snapshot(request: Request, event_id: str) -> Response:
        deps.principal(request)
        with deps.database.session() as session:
            row = session.get(AlertRow, event_id)
            jpeg = None if row is None else row.snapshot
        if jpeg is None:
            raise HTTPException(404, "no snapshot")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private"})

    @router.post("/alerts/{event_id}/ack")
    def acknowledge(request: Request, event_id: str, csrf: str = Form("")) -> Response:
        principal = deps.require(request, "operator")
        check_csrf(principal, csrf, request)
        at = now()
        with deps.database.session() as session:
            done = session.execute(
                update(AlertRow)
                .where(AlertRow.event_id == event_id, AlertRow.acknowledged_at.is_(None))
                .values(acknowledged_by=principal.username, acknowledged_at=at)
            )
            if getattr(done, "rowcount", 0):
                audit(
                    session,
                    principal.username,
                    "alert_ack",
                    f"alert:{event_id}",
                    at,
                    source=client_address(request),
                )
        deps.feed.publish({"event": "ack", "event_id": event_id, "by": principal.username})
        return RedirectResponse("/", status_code=303)

    @router.post("/alerts/{event_id}/assign")
    def assign(
        request: Request, event_id: str, csrf: str = Form(""), assignee: str = Form("")
    ) -> Response:
        principal = deps.require(request, "operator")
        check_csrf(principal, csrf, request)
        assignee = assignee.strip()[:64]
        at = now()
        with deps.database.session() as session:
            session.execute(
                update(AlertRow).where(AlertRow.event_id == event_id).values(assigned_to=assignee)
            )
            audit(
                session,
                principal.username,
                "alert_assign",
                f"alert:{event_id}",
                at,
                detail=assignee,
                source=client_address(request),
            )
        return RedirectResponse("/", status_code=303)

    return router
