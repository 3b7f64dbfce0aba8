"""What each verified command does, and the result it answers with.

Only `VerifiedCommand`s (signature, target, time window and nonce checked) reach `CommandHandlers`.
`open` is handed to the runtime as a `RemoteOpen`; the link never touches the door itself, and any
failure of the callback is an error result with the door left shut. Every handler returns a
`CommandResult`; an unexpected exception becomes the `internal_error` result, never silence.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gateway.application.actor import Actor
from gateway.application.call_answer import CallAnswer, CallAnswerOutcome
from gateway.application.delta_sync import SyncRefused, parse_time
from gateway.application.remote_open import OpenOutcome, RemoteOpen
from gateway.application.station_sync import StationSync
from gateway.application.visitor_codes import CodeRefused, CodeRequest, UnitRef, VisitorCodes
from gateway.config.station import StationConfig
from gateway.station.call_answer import parse_answer_args
from gateway.station.verify import VerifiedCommand
from gateway.store.store import Store

LOG = logging.getLogger(__name__)

# set_config may change only these keys (dotted paths into GatewayConfig); values are validated
# by the runtime's ConfigAccess.update (pydantic validate_assignment).
SETTABLE_CONFIG_KEYS = frozenset(
    {"door.unlock_ms", "door.held_open_s", "station.status_interval_s", "logging.level"}
)


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    error: str | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class ConfigAccess(Protocol):
    """The runtime's view of its config for get_config/set_config."""

    def view(self) -> dict[str, Any]:
        """The documented safe subset, as dotted keys -> values."""

    def update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply validated changes (keys within SETTABLE_CONFIG_KEYS); return the new view."""


@dataclass
class StationCallbacks:
    """What the runtime lends the link; every field is optional (absent -> `not_supported`)."""

    on_remote_open: Callable[[RemoteOpen], OpenOutcome] | None = None
    status: Callable[[], dict[str, Any]] | None = None
    take_snapshot: Callable[[], bytes | None] | None = None
    config: ConfigAccess | None = None
    on_watchlist_changed: Callable[[], None] | None = None
    on_people_changed: Callable[[], None] | None = None
    telemetry: Callable[[], Mapping[str, float | None]] | None = None  # runtime figures
    on_call_answer: Callable[[CallAnswer], CallAnswerOutcome] | None = None  # visitor calls
    call_snapshot: Callable[[str], bytes | None] | None = None  # a ringing call's snapshot


# The station protocol's error codes for a refused visitor code (docs/mqtt.md).
_STATION_CODE_ERRORS = {"bad_max_uses": "malformed", "bad_window": "code_rejected"}


def _refused(error: str, message: str) -> CommandResult:
    return CommandResult(False, error, message)


class CommandHandlers:
    """Runs verified commands against the store and the runtime callbacks."""

    def __init__(
        self,
        store: Store,
        config: StationConfig,
        callbacks: StationCallbacks,
        *,
        door_id: int,
        model_id: str,
        request_replay: Callable[[int, int], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.config = config
        self.callbacks = callbacks
        self.door_id = door_id
        self.model_id = model_id
        self.request_replay = request_replay
        self.clock = clock
        self.codes = VisitorCodes(store, door_id, clock)
        self.sync = StationSync(
            store,
            model_id=model_id,
            door_id=door_id,
            people_changed=callbacks.on_people_changed,
            watchlist_changed=callbacks.on_watchlist_changed,
        )
        self._table: dict[str, Callable[[VerifiedCommand, datetime], CommandResult]] = {
            "open": self._open,
            "issue_code": self._issue_code,
            "revoke_code": self._revoke_code,
            "sync_watchlist": self._sync_watchlist,
            "sync_people": self._sync_people,
            "get_config": self._get_config,
            "set_config": self._set_config,
            "snapshot": self._snapshot,
            "replay": self._replay,
            "answer_call": self._answer_call,
        }

    def run(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        handler = self._table.get(command.name)
        if handler is None:
            return _refused("unknown_command", f"no command {command.name!r}")
        try:
            return handler(command, now)
        except SyncRefused as refusal:
            return _refused(refusal.code, str(refusal))
        except Exception as error:
            LOG.exception("command %s (%s) failed", command.name, command.command_id)
            return _refused("internal_error", f"{type(error).__name__}: {error}")

    def _open(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        callback = self.callbacks.on_remote_open
        if callback is None:
            return _refused("not_supported", "remote open is not enabled on this gateway")
        if self.clock() >= command.expires_at:  # it may have waited behind a long sync
            return _refused("expired", "the open command expired before it could run")
        outcome = callback(RemoteOpen(command.command_id, command.requester, command.expires_at))
        if not outcome.opened:
            return _refused("open_denied", outcome.reason)
        data = {"event_id": outcome.event_id} if outcome.event_id else {}
        return CommandResult(True, None, outcome.reason, data)

    def _answer_call(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        callback = self.callbacks.on_call_answer
        if callback is None:
            return _refused("not_supported", "visitor calls are not enabled on this gateway")
        parsed = parse_answer_args(command.args)
        if isinstance(parsed, str):
            return _refused("malformed", parsed)
        if self.clock() >= command.expires_at:
            return _refused("expired", "the answer expired before it could run")
        call_id, door, accept = parsed
        answer = CallAnswer(
            command.command_id, call_id, door, accept, command.requester, command.expires_at
        )
        outcome = callback(answer)
        data: dict[str, Any] = {"call_id": call_id, "opened": outcome.opened}
        if outcome.event_id:
            data["event_id"] = outcome.event_id
        if not outcome.ok:
            return CommandResult(False, "answer_refused", outcome.reason, data)
        return CommandResult(True, None, outcome.reason, data)

    def _issue_code(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        """The station chooses the code: the gateway stores only its hash, so a plain code never
        sits in the outbox or the database."""
        args = command.args
        code, spec = args.get("code"), args.get("unit")
        if not isinstance(code, str):
            return _refused("malformed", "code must be 4 to 12 digits, chosen by the station")
        if not isinstance(spec, dict):
            return _refused("malformed", "unit must be {building, unit_number, room_number}")
        max_uses = args.get("max_uses", 1)
        if not isinstance(max_uses, int):
            return _refused("malformed", "max_uses must be an integer")
        unit = UnitRef(
            str(spec.get("unit_number")), str(spec.get("room_number")), str(spec.get("building"))
        )
        valid_from = parse_time(args.get("valid_from"), "valid_from", optional=True) or now
        valid_until = parse_time(args.get("valid_until"), "valid_until") or now  # never None
        request = CodeRequest(unit, valid_from, valid_until, max_uses, code)
        try:
            issued = self.codes.issue(request, Actor(command.issued_by))
        except CodeRefused as refused:
            return _refused(_STATION_CODE_ERRORS.get(refused.code, refused.code), str(refused))
        return CommandResult(True, None, "visitor code issued", {"code_id": issued.code_id})

    def _revoke_code(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        code_id = command.args.get("code_id")
        if not isinstance(code_id, int):
            return _refused("malformed", "code_id must be an integer")
        try:
            self.codes.revoke(code_id, Actor(command.issued_by))
        except CodeRefused as refused:
            return _refused(refused.code, str(refused))
        return CommandResult(True, None, "visitor code revoked", {"code_id": code_id})

    def _sync_watchlist(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        outcome = self.sync.watchlist(command.args, Actor(command.issued_by), now)
        return CommandResult(True, None, "watch-list delta applied", outcome.__dict__)

    def _sync_people(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        outcome = self.sync.people(command.args, Actor(command.issued_by), now)
        return CommandResult(True, None, "people delta applied", outcome.__dict__)

    def _get_config(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        if self.callbacks.config is None:
            return _refused("not_supported", "config access is not enabled")
        return CommandResult(True, None, "", {"config": self.callbacks.config.view()})

    def _set_config(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        if self.callbacks.config is None:
            return _refused("not_supported", "config access is not enabled")
        changes = command.args.get("changes")
        if not isinstance(changes, dict) or not changes:
            return _refused("malformed", "changes must be a non-empty object")
        refused = sorted(set(changes) - SETTABLE_CONFIG_KEYS)
        if refused:
            return _refused("not_settable", f"not in the safe subset: {', '.join(refused)}")
        try:
            view = self.callbacks.config.update(changes)
        except ValueError as error:
            return _refused("invalid_value", str(error))
        return CommandResult(True, None, "config updated", {"config": view})

    def _snapshot(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        if self.callbacks.take_snapshot is None:
            return _refused("not_supported", "snapshots are not enabled")
        jpeg = self.callbacks.take_snapshot()
        if jpeg is None:
            return _refused("no_frame", "no camera frame available")
        if len(jpeg) > self.config.max_snapshot_bytes:
            return _refused("too_large", f"snapshot is {len(jpeg)} bytes")
        data: dict[str, Any] = {"content_type": "image/jpeg", "bytes": len(jpeg)}
        data["data"] = base64.b64encode(jpeg).decode("ascii")
        return CommandResult(True, None, "snapshot", data)

    def _replay(self, command: VerifiedCommand, now: datetime) -> CommandResult:
        since, until = command.args.get("since_seq"), command.args.get("until_seq")
        if not isinstance(since, int) or since < 1:
            return _refused("malformed", "since_seq must be a positive integer")
        last = until if isinstance(until, int) else since + self.config.max_replay - 1
        last = min(last, since + self.config.max_replay - 1)
        if last < since:
            return _refused("malformed", "until_seq is before since_seq")
        self.request_replay(since, last)
        return CommandResult(True, None, "replay queued", {"first_seq": since, "last_seq": last})
