"""A tiny sd_notify client and the systemd watchdog pinger.

`Notifier` sends `READY=1`, `WATCHDOG=1`, `STATUS=...`, `STOPPING=1` as one datagram to the
AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract-namespace name written "@name").
Without NOTIFY_SOCKET every call is a no-op, so the same code runs under systemd, in a shell and
in tests. `WatchdogPinger` pings at half of $WATCHDOG_USEC, but only while a liveness callable
says the gateway is alive: a hung thread stops the pings and systemd restarts the service.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

from gateway.worker import LoopWorker

LOG = logging.getLogger(__name__)
Liveness = Callable[[], bool]


def _socket_address(raw: str) -> str | bytes:
    """A NOTIFY_SOCKET value as a socket address ("@name" is the abstract namespace)."""
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


class Notifier:
    """Sends sd_notify messages; `enabled` is False (and sends are no-ops) outside systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = _socket_address(raw) if raw else None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send `KEY=value` lines as one datagram; True when sent, False when disabled/failed."""
        if self._address is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            with (
                self._lock,
                socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock,
            ):
                sock.sendto(message, self._address)
        except OSError as error:
            LOG.warning("sd_notify to %r failed: %s", self._address, error)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        lines = ["READY=1"] + ([f"STATUS={status}"] if status else [])
        return self.notify(*lines)

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text.replace(chr(10), ' ')}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Half of $WATCHDOG_USEC in seconds, or None when the watchdog is off or meant for another
    process ($WATCHDOG_PID set to a different pid)."""
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    raw = env.get("WATCHDOG_USEC", "")
    if not raw.isdigit() or int(raw) == 0:
        return None
    return int(raw) / 1_000_000 / 2


class WatchdogPinger:
    """A thread sending WATCHDOG=1 every `interval_s` while `alive()` returns True.

    When `alive()` turns False the pings stop (once, a STATUS line says why) and systemd's
    WatchdogSec= expiry restarts the service; if it turns True again the pings resume.
    """

    def __init__(self, notifier: Notifier, alive: Liveness, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.notifier = notifier
        self.alive = alive
        self.interval_s = interval_s
        self.pings = 0
        self.missed = 0
        self._worker = LoopWorker("watchdog-pinger", self._step)

    @classmethod
    def from_environment(
        cls, notifier: Notifier, alive: Liveness, environ: Mapping[str, str] | None = None
    ) -> WatchdogPinger | None:
        """A pinger at half of $WATCHDOG_USEC, or None when systemd asked for no watchdog."""
        interval = watchdog_interval_s(environ)
        if interval is None or not notifier.enabled:
            return None
        return cls(notifier, alive, interval)

    def tick(self) -> bool:
        """One check: ping if alive; returns whether a ping was sent."""
        try:
            healthy = bool(self.alive())
        except Exception:
            LOG.exception("liveness check raised: treated as not alive")
            healthy = False
        if healthy:
            if self.missed:
                LOG.warning("alive again after %d missed watchdog pings", self.missed)
                self.notifier.status("running")
            self.missed = 0
            self.pings += 1
            return self.notifier.watchdog()
        if self.missed == 0:
            LOG.error("liveness check failed: withholding watchdog pings (systemd will restart)")
            self.notifier.status("a worker thread is hung or stopped: watchdog pings withheld")
        self.missed += 1
        return False

    def start(self) -> None:
        self._worker.start()

    def _step(self, stopping: threading.Event) -> None:
        self.tick()
        stopping.wait(self.interval_s)

    def stop(self, timeout: float = 5.0) -> None:
        self._worker.stop(timeout)

    @property
    def running(self) -> bool:
        return self._worker.running


def heartbeat_fresh(
    last_beat: Callable[[], float], max_age_s: float, clock: Callable[[], float]
) -> Liveness:
    """A liveness check: True while `clock() - last_beat()` is at most `max_age_s`.

    For threads that stamp a heartbeat each time round their loop (VisionLoop.heartbeat is a
    time.monotonic() value); a thread stuck in one call stops stamping and goes stale.
    """

    def check() -> bool:
        return clock() - last_beat() <= max_age_s

    return check


def all_alive(*checks: Liveness) -> Liveness:
    """A liveness that is True only when every check is (evaluated in order, short-circuit)."""

    def check() -> bool:
        return all(item() for item in checks)

    return check
