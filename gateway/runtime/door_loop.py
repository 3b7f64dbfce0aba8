"""The door thread: the only caller of DoorController, card/keypad handling and door alarms.

Other threads ask for a release through `request_grant` (a queue); the loop applies it with its
expiry, so a grant that waited too long is dropped by the controller rather than opening late.
Cards, resident PINs and visitor codes are decided here through the access policy; a burst of
unknown cards locks the reader (`UnknownCardGuard`) and wrong codes or PINs lock the keypad, both
alerted; exit and fire releases, which the door performs by itself, are recorded; door alarms
become alerts.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from firmware_bridge.door import AlarmKind, DoorAlarm, DoorController, DoorState, DoorTransition
from firmware_bridge.io import (
    ExitPressed,
    FireAlarmChanged,
    InputRejected,
    LinkChanged,
    WiegandReceived,
)
from firmware_bridge.wiegand import CardRead, KeypadKey
from gateway.access.alerts import AlertRecorder
from gateway.access.card_guard import UnknownCardGuard
from gateway.access.keypad import CallSubmitted, CodeSubmitted, KeypadEntry, PinSubmitted
from gateway.access.policy import AccessDecision, AccessPolicy
from gateway.store.base import Method, Severity
from gateway.worker import LoopWorker

LOG = logging.getLogger(__name__)
GRANT_TTL_NS = 2_000_000_000
DOOR_RELEASING = (Method.CARD, Method.CODE, Method.PIN)
UNKNOWN_CARD_REASONS = ("unknown_card", "card_format_mismatch")
# A PIN denial that is a wrong guess (counted toward the keypad lockout); a right PIN refused for
# another reason (second factor still needed, outside the schedule) is not a guess.
WRONG_PIN_REASONS = ("wrong_pin", "unknown_resident", "second_factor_failed")


def wrong_guess(decision: AccessDecision) -> bool:
    """Whether a keypad decision counts toward the keypad's brute-force lockout."""
    if decision.granted:
        return False
    return decision.method is not Method.PIN or decision.reason in WRONG_PIN_REASONS


ALARM_SEVERITY = {
    AlarmKind.FORCED_OPEN: Severity.CRITICAL,
    AlarmKind.HELD_OPEN: Severity.WARNING,
    AlarmKind.TAMPER: Severity.CRITICAL,
    AlarmKind.FIRE_RELEASE: Severity.CRITICAL,
}


@dataclass(frozen=True)
class GrantRequest:
    reason: str
    expires_at_ns: int
    grant_id: str | None


class DoorLoop:
    """Runs the door controller on its own thread."""

    def __init__(
        self,
        door: DoorController,
        policy: AccessPolicy,
        keypad: KeypadEntry,
        alerts: AlertRecorder,
        clock_ns: Callable[[], int],
        on_decision: Callable[[AccessDecision], None] | None = None,
        card_guard: UnknownCardGuard | None = None,
        on_call: Callable[[str], object] | None = None,
    ) -> None:
        self.door = door
        self.on_call = on_call  # the call desk: `# # unit #` was keyed
        self.policy = policy
        self.keypad = keypad
        self.card_guard = card_guard
        self.alerts = alerts
        self.clock_ns = clock_ns
        self.on_decision = on_decision
        self._requests: queue.SimpleQueue[GrantRequest] = queue.SimpleQueue()
        self._worker = LoopWorker("door-loop", self._step)
        self.heartbeat_ns = 0
        self.counters: dict[str, int] = {}

    @property
    def state(self) -> DoorState:
        return self.door.state

    @property
    def alarms(self) -> frozenset[AlarmKind]:
        return self.door.alarms

    @property
    def door_released_or_open(self) -> bool:
        return self.door.state in (DoorState.UNLOCKED, DoorState.OPEN)

    def request_grant(
        self, reason: str, grant_id: str | None, not_after_ns: int | None = None
    ) -> None:
        """Queue a release for the door thread. It expires GRANT_TTL_NS from now, or earlier at
        `not_after_ns` (e.g. a remote command's own expiry): the controller drops a late one."""
        expires = self.clock_ns() + GRANT_TTL_NS
        if not_after_ns is not None:
            expires = min(expires, not_after_ns)
        self._requests.put(GrantRequest(reason, expires, grant_id))

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._worker.stop(timeout)

    @property
    def running(self) -> bool:
        return self._worker.running

    def _step(self, _stopping: threading.Event) -> None:
        self.heartbeat_ns = self.clock_ns()
        self.run_once(0.05)

    def run_once(self, timeout_s: float) -> None:
        """One iteration: apply queued grants, read events, run timers (tests call this)."""
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                break
            self._handle_items(
                self.door.grant(request.reason, request.expires_at_ns, request.grant_id)
            )
        self._handle_items(self.door.step(timeout_s))
        self._reader_unlocked()

    def _handle_items(self, items: Sequence[object]) -> None:
        for item in items:
            try:
                self._handle(item)
            except Exception:  # one bad event must not stop the door thread
                self._count("handler_errors")
                LOG.exception("door event %r could not be handled", item)

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _decided(self, decision: AccessDecision) -> None:
        if decision.granted and decision.method in DOOR_RELEASING:
            self._handle_items(
                self.door.grant(
                    f"{decision.method}:{decision.reason}",
                    self.clock_ns() + GRANT_TTL_NS,
                    decision.event_id,
                )
            )
        if self.on_decision is not None:
            self.on_decision(decision)

    def _handle(self, item: object) -> None:
        if isinstance(item, WiegandReceived):
            self._wiegand(item)
        elif isinstance(item, ExitPressed):
            self._decided(self.policy.local_release(Method.EXIT))
        elif isinstance(item, FireAlarmChanged) and item.active:
            self._decided(self.policy.local_release(Method.FIRE))
        elif isinstance(item, DoorAlarm) and item.active:
            self.alerts.raise_(
                f"door_{item.kind}", ALARM_SEVERITY[item.kind], {"detail": item.detail}
            )
        elif isinstance(item, InputRejected):
            self._count(f"rejected.{item.source}.{item.reason}")
        elif isinstance(item, LinkChanged) and not item.up:
            self.alerts.raise_("door_link_down", Severity.CRITICAL, {"detail": item.detail})
        elif isinstance(item, DoorTransition):
            LOG.info("door %s -> %s (%s)", item.previous, item.state, item.reason)

    def _wiegand(self, event: WiegandReceived) -> None:
        read = event.read
        if isinstance(read, CardRead):
            self._card(read)
        elif isinstance(read, KeypadKey):
            self._key(read.key)
        else:
            self._count("wiegand.raw_ignored")

    def _card(self, read: CardRead) -> None:
        fields = (read.format_bits, read.facility, read.card)
        guard = self.card_guard
        if guard is not None and guard.locked:
            known = self.policy.card_holder_known(*fields)
            guard.refuse_while_locked(known)
            self._count("card.refused_locked")
            if known:  # a real card during the lockout: refused, and the event says why
                self._decided(self.policy.card_refused(*fields))
            return
        decision = self.policy.card(*fields)
        self._decided(decision)
        if guard is not None and decision.reason in UNKNOWN_CARD_REASONS:
            locked = guard.unknown_card()
            if locked is not None:
                self.alerts.raise_(
                    "card_brute_force",
                    Severity.WARNING,
                    {
                        "unknown_cards": locked.unknown_cards,
                        "window_s": locked.window_s,
                        "locked_for_s": locked.locked_for_s,
                    },
                )

    def _reader_unlocked(self) -> None:
        ended = self.card_guard.ended() if self.card_guard is not None else None
        if ended is not None:
            LOG.warning(
                "card reader unlocked after %.0f s; %d cards refused while locked",
                ended.locked_for_s,
                ended.refused,
            )
            self.alerts.raise_(
                "card_reader_unlocked",
                Severity.INFO,
                {"refused": ended.refused, "locked_for_s": round(ended.locked_for_s, 1)},
            )

    def _key(self, key: str) -> None:
        outcome = self.keypad.press(key)
        if isinstance(outcome, CodeSubmitted):
            decision = self.policy.keypad_digits(outcome.code)
        elif isinstance(outcome, PinSubmitted):
            decision = self.policy.resident_pin(outcome.resident_number, outcome.pin)
        elif isinstance(outcome, CallSubmitted):
            if self.on_call is None:  # calls are off (or no station link to answer them)
                self._count("call.not_enabled")
            else:  # a call opens nothing here: the resident's answer may, later
                self.on_call(outcome.unit)
            return
        else:
            return
        # A store error judged nothing: it neither counts as a guess nor resets the count.
        locked = None
        if decision.reason != "store_error":
            locked = self.keypad.record_result(not wrong_guess(decision))
        self._decided(decision)
        if locked is not None:
            kind = "pin_brute_force" if decision.method is Method.PIN else "code_brute_force"
            self.alerts.raise_(
                kind,
                Severity.WARNING,
                {"failures": locked.failures, "locked_for_s": self.keypad.config.lockout_s},
            )
