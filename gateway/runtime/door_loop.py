"""The door thread: the only caller of DoorController, card/keypad handling and door alarms.

Other threads ask for a release through `request_grant` (a queue); the loop applies it with its
expiry, so a grant that waited too long is dropped by the controller rather than opening late.
Cards and keypad codes are decided here through the access policy; exit and fire releases, which
the door performs by itself, are recorded; door alarms become alerts.
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
from gateway.access.keypad import CodeSubmitted, KeypadEntry
from gateway.access.policy import AccessDecision, AccessPolicy
from gateway.store.base import Method, Severity

LOG = logging.getLogger(__name__)
GRANT_TTL_NS = 2_000_000_000

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
    ) -> None:
        self.door = door
        self.policy = policy
        self.keypad = keypad
        self.alerts = alerts
        self.clock_ns = clock_ns
        self.on_decision = on_decision
        self._requests: queue.SimpleQueue[GrantRequest] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.heartbeat_ns = 0
        self.counters: dict[str, int] = {}

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
        self._thread = threading.Thread(target=self._run, name="door-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
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
        if decision.granted and decision.method in (Method.CARD, Method.CODE):
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
            self._decided(self.policy.card(read.facility, read.card))
        elif isinstance(read, KeypadKey):
            outcome = self.keypad.press(read.key)
            if isinstance(outcome, CodeSubmitted):
                decision = self.policy.code(outcome.code)
                locked = self.keypad.record_result(decision.granted)
                self._decided(decision)
                if locked is not None:
                    self.alerts.raise_(
                        "code_brute_force",
                        Severity.WARNING,
                        {"failures": locked.failures, "locked_for_s": self.keypad.config.lockout_s},
                    )
        else:
            self._count("wiegand.raw_ignored")
