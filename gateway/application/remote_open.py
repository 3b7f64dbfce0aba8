"""Remote open: the one path from a verified remote request to the door.

The request reaches the door only through `AccessPolicy.remote` (recorded with its outbox row,
the requester's own checks applied) and then the door thread's expiring grant; any refusal, an
expired request or a door that is not running leaves the door shut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.access.policy import AccessDecision
from gateway.access.requester import Requester
from gateway.application.parts import DoorView
from gateway.application.release import release_until


@dataclass(frozen=True)
class RemoteOpen:
    """A verified remote open for the runtime to decide on (policy, door, event)."""

    command_id: str
    requested_by: Requester
    expires_at: datetime


@dataclass(frozen=True)
class OpenOutcome:
    opened: bool
    reason: str
    event_id: str | None = None


class RemoteDecider(Protocol):
    """`AccessPolicy.remote`: decides and records the attempt."""

    def remote(
        self, command_id: str, requested_by: Requester, expires_at: datetime
    ) -> AccessDecision: ...


class RemoteOpenCommand:
    def __init__(
        self,
        policy: RemoteDecider,
        door: DoorView,
        now: Callable[[], datetime],
        on_decision: Callable[[AccessDecision], None] | None = None,
    ) -> None:
        self._policy = policy
        self._door = door
        self._now = now
        self._on_decision = on_decision

    def __call__(self, request: RemoteOpen) -> OpenOutcome:
        if not self._door.running:
            return OpenOutcome(False, "not_ready")
        decision = self._policy.remote(request.command_id, request.requested_by, request.expires_at)
        if self._on_decision is not None:
            self._on_decision(decision)
        # The command's own expiry bounds the release too, not only the door's grant lifetime.
        if decision.granted and release_until(
            self._door,
            self._now,
            f"remote:{request.requested_by}",
            decision.event_id,
            request.expires_at,
        ):
            return OpenOutcome(True, decision.reason, decision.event_id)
        return OpenOutcome(False, decision.reason, decision.event_id)
