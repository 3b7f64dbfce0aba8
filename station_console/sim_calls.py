"""The visitor calls of one simulated gateway, answering `answer_call` like the real gateway.

Same contract as gateway/runtime/call_desk.py and gateway/station/commands.py (docs/mqtt.md,
"Visitor calls"): `place` gives a call a 32-hex id and a `placed` body with the caller's snapshot
(held in memory only while the call rings); `answer` takes the verified command's args and
`issued_by`, parses the args with the gateway's own `parse_answer_args`, accepts or declines a
ringing call once, at its own door and within its ring window, and refuses anything else
(`unknown_call`, `call_ended`, `wrong_door`, `call_window_passed`) with a `refused` body; the
command result is `answer_refused` (or `malformed`) with `data = {call_id, opened, event_id}`.
`expire` ends the calls whose window passed as `missed`. Not simulated: residents (any
`resident:<id>` is taken as a resident of the called unit), rate limits and quiet hours.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.station.call_answer import parse_answer_args
from gateway.store.uuid7 import uuid7

Emit = Callable[[dict[str, Any]], None]  # a visitor_call body -> the outbox
Result = tuple[bool, str | None, str, dict[str, Any]]  # ok, error, message, data
RING_S = 45.0


@dataclass
class SimCall:
    call_id: str
    door: str
    unit: dict[str, str]
    ring_until: float
    snapshot: bytes | None
    state: str = "ringing"


class SimCallDesk:
    def __init__(self, door: str, snapshot: bytes, emit: Emit) -> None:
        self.door = door
        self.snapshot = snapshot
        self.emit = emit
        self.calls: dict[str, SimCall] = {}
        self.opens = 0  # doors released by accepted calls
        self._lock = threading.Lock()  # placed by the simulation, answered on paho's thread

    def _body(self, call: SimCall, outcome: str, reason: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event_id": str(uuid7()),
            "call_id": call.call_id,
            "outcome": outcome,
            "occurred_at": datetime.now(UTC).isoformat(),
            "door": call.door,
            "unit": call.unit,
            "verdict": "deny",
            "reason": reason,
            "answered_by": None,
            "person": None,
            "snapshot": None,
        }
        return body | extra

    def place(self, room: str = "1201", ring_s: float = RING_S) -> str:
        """A visitor calls `room` of building 1, unit 1; returns the call id."""
        with self._lock:
            return self._place(room, ring_s)

    def _place(self, room: str, ring_s: float) -> str:
        unit = {"building": "1", "unit_number": "1", "room_number": room}
        call = SimCall(
            secrets.token_hex(16), self.door, unit, time.monotonic() + ring_s, self.snapshot
        )
        self.calls[call.call_id] = call
        jpeg = call.snapshot or b""
        snapshot = {
            "content_type": "image/jpeg",
            "bytes": len(jpeg),
            "truncated": False,
            "data": base64.b64encode(jpeg).decode("ascii"),
        }
        self.emit(self._body(call, "placed", "call_placed", snapshot=snapshot))
        return call.call_id

    def _end(self, call: SimCall, state: str) -> None:
        call.state, call.snapshot = state, None  # the image is gone with the call

    def expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for call in [c for c in self.calls.values() if c.state == "ringing"]:
                if now >= call.ring_until:
                    self._end(call, "missed")
                    self.emit(self._body(call, "missed", "call_missed"))

    def answer(self, args: dict[str, Any], issued_by: str, expires_at: datetime) -> Result:
        """One verified `answer_call` (its args, `issued_by`, expiry) -> the command result."""
        with self._lock:
            return self._answer(args, issued_by, expires_at)

    def _answer(self, args: dict[str, Any], issued_by: str, expires_at: datetime) -> Result:
        parsed = parse_answer_args(args)
        if isinstance(parsed, str):
            return False, "malformed", parsed, {}
        if datetime.now(UTC) >= expires_at:
            return False, "expired", "the answer expired before it could run", {}
        call_id, door, accept = parsed
        person = issued_by.split(":", 1)[1] if issued_by.startswith("resident:") else None
        call = self.calls.get(call_id)
        reason = None
        if call is None:
            reason = "unknown_call"
        elif (door or self.door) != call.door:
            reason = "wrong_door"
        elif call.state != "ringing":
            reason = "call_ended"
        elif time.monotonic() >= call.ring_until:
            self._end(call, "missed")
            self.emit(self._body(call, "missed", "call_missed"))
            reason = "call_window_passed"
        if reason is not None or call is None:  # issued_by was checked by verify_command
            refused = call or SimCall(call_id, self.door, {}, 0.0, None)
            body = self._body(refused, "refused", str(reason), answered_by=issued_by, person=person)
            body["unit"] = refused.unit or None
            self.emit(body)
            data = {"call_id": call_id, "opened": False, "event_id": body["event_id"]}
            return False, "answer_refused", str(reason), data
        state = "accepted" if accept else "declined"
        self._end(call, state)
        body = self._body(
            call,
            state,
            f"call_{state}",
            verdict="grant" if accept else "deny",
            answered_by=issued_by,
            person=person,
        )
        self.emit(body)
        self.opens += int(accept)
        data = {"call_id": call_id, "opened": accept, "event_id": body["event_id"]}
        return True, None, f"call_{state}", data
