"""The `answer_call` command: its arguments, parsed strictly, and what the runtime answers.

Args: `{"call_id": <32 hex>, "answer": "accept" | "decline", "door": <door code>}` (`door` is
optional; when given it must be the call's door, as in its visitor_call event). The command
itself is verified like every other (Ed25519 signature, target, expiry, nonce) before these are
read; `issued_by` is the station (`station[:operator]`) or the resident who answered
(`resident:<external id>`), checked by the runtime like a resident remote open. Malformed args
are refused here, before the runtime sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.access.requester import Requester

CALL_ID = re.compile(r"[0-9a-f]{32}")
DOOR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ANSWERS = ("accept", "decline")


@dataclass(frozen=True)
class CallAnswer:
    """A verified answer for the runtime to decide on (call state, requester, door, event)."""

    command_id: str
    call_id: str
    door: str | None  # None: the call's own door
    accept: bool
    answered_by: Requester
    expires_at: datetime


@dataclass(frozen=True)
class CallAnswerOutcome:
    """`ok`: the answer was taken (accepted and the door released, or declined)."""

    ok: bool
    reason: str  # call_accepted | call_declined | the refusal's reason code
    opened: bool = False
    event_id: str | None = None


def parse_answer_args(args: dict[str, Any]) -> tuple[str, str | None, bool] | str:
    """(call_id, door, accept), or the message saying what is malformed."""
    call_id, door, answer = args.get("call_id"), args.get("door"), args.get("answer")
    if not isinstance(call_id, str) or CALL_ID.fullmatch(call_id) is None:
        return "call_id must be the 32 hex digits of a visitor_call event"
    if door is not None and (not isinstance(door, str) or DOOR_CODE.fullmatch(door) is None):
        return "door must be the door code of the visitor_call event"
    if answer not in ANSWERS:
        return "answer must be 'accept' or 'decline'"
    return call_id, door, answer == "accept"
