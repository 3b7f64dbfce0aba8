"""sd_notify over a real AF_UNIX datagram socket, and the watchdog pinger's liveness gating."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.ops.sdnotify import (
    Notifier,
    WatchdogPinger,
    all_alive,
    heartbeat_fresh,
    watchdog_interval_s,
)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5.0)
    yield sock, str(path)
    sock.close()


def drain(sock: socket.socket) -> list[str]:
    messages = []
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
    return messages


def test_messages_reach_the_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("models loaded, door safe")
    assert sock.recv(4096) == b"READY=1\nSTATUS=models loaded, door safe"
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.status("two\nlines")
    assert sock.recv(4096) == b"STATUS=two lines"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_namespace_socket() -> None:
    name = f"menwei-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5.0)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_no_notify_socket_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_unreachable_socket_reports_failure_without_raising(tmp_path: Path) -> None:
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "missing.sock")}).ready() is False


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None
    mine = {"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_s(mine) == 2.0
    other = {"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert watchdog_interval_s(other) is None


def test_from_environment_needs_socket_and_watchdog(
    notify_socket: tuple[socket.socket, str],
) -> None:
    _sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    pinger = WatchdogPinger.from_environment(notifier, lambda: True, {"WATCHDOG_USEC": "6000000"})
    assert pinger is not None and pinger.interval_s == 3.0
    assert WatchdogPinger.from_environment(notifier, lambda: True, {}) is None
    assert (
        WatchdogPinger.from_environment(Notifier({}), lambda: True, {"WATCHDOG_USEC": "1"}) is None
    )


def test_pings_stop_when_liveness_turns_false(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    alive_calls = 0
    checked_while_dead = threading.Event()

    def alive() -> bool:  # alive for 3 checks, then hung for good
        nonlocal alive_calls
        alive_calls += 1
        if alive_calls >= 3 + 4:
            checked_while_dead.set()
        return alive_calls <= 3

    pinger = WatchdogPinger(Notifier({"NOTIFY_SOCKET": path}), alive, interval_s=0.01)
    pinger.start()
    try:
        assert checked_while_dead.wait(10.0), "the pinger stopped checking liveness"
    finally:
        pinger.stop()
    messages = drain(sock)
    assert messages.count("WATCHDOG=1") == 3
    assert messages[3].startswith("STATUS=") and "withheld" in messages[3]
    assert pinger.pings == 3 and pinger.missed >= 4


def test_pings_resume_and_raising_liveness_counts_as_dead(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    answers = iter([True, False, True])

    def alive() -> bool:
        answer = next(answers, None)
        if answer is None:
            raise RuntimeError("broken check")
        return answer

    pinger = WatchdogPinger(Notifier({"NOTIFY_SOCKET": path}), alive, interval_s=1.0)
    assert [pinger.tick() for _ in range(4)] == [True, False, True, False]
    messages = drain(sock)
    assert messages[0] == "WATCHDOG=1"
    assert messages[1].startswith("STATUS=")
    assert messages[2:4] == ["STATUS=running", "WATCHDOG=1"]
    assert messages[4].startswith("STATUS=")


def test_heartbeat_liveness_goes_stale_and_all_alive_needs_every_check() -> None:
    now = [100.0]
    beat = [99.0]
    fresh = heartbeat_fresh(lambda: beat[0], 5.0, lambda: now[0])
    assert fresh()
    now[0] = 104.0
    assert fresh()
    now[0] = 104.5
    assert not fresh()
    assert all_alive(lambda: True, lambda: True)()
    assert not all_alive(lambda: True, fresh)()
