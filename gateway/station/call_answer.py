"""The `answer_call` command's arguments, parsed strictly (the answer itself is the application's
`AnswerCallCommand`).

Args: `{"call_id": <32 hex>, "answer": "accept" | "decline", "door": <door code>}` (`door` is
optional; when given it must be the call's door, as in its visitor_call event). The command
itself is verified like every other (Ed25519 signature, target, expiry, nonce) before these are
read; `issued_by` is the station (`station[:operator]`) or the resident who answered
(`resident:<external id>`), checked by the application like a resident remote open. Malformed args
are refused here, before the application sees them.
"""

from __future__ import annotations

import re
from typing import Any

CALL_ID = re.compile(r"[0-9a-f]{32}")
DOOR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ANSWERS = ("accept", "decline")


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
