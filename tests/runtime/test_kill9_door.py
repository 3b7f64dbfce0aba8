"""Kill -9 of the whole gateway mid-release, in a loop, with the MCU backend.

The firmware's own code runs on a fake RP2040 in this process, wired to `menwei run` (a real
subprocess: store, models, policy, door thread, MCU driver) through a pseudo-terminal. A card is
presented, the gateway grants it and the MCU energises the relay; the gateway is then killed with
SIGKILL. The relay must drop by itself (hard maximum on-time / host watchdog) and every grant that
released the door must be in the store after the restart: it was committed before the release.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from firmware_bridge.firmware import main as fw
from firmware_bridge.wiegand import encode_card
from gateway.store.base import Method, Verdict
from gateway.store.schema_events import AccessEvent
from gateway.store.store import open_store
from gateway.vision.pipeline import FacePipeline
from tests.firmware_bridge.fake_machine import FakeBoard, FakeTime, PtyUart
from tests.runtime.conftest import empty_camera, enrol, make_config, resident_frames

pytestmark = pytest.mark.slow

ROUNDS = 3
MAX_UNLOCK_MS = 3000
WATCHDOG_MS = 600


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """A minimal TOML writer for the config dump (tables, strings, numbers, bools, lists)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is None:
            continue
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(str(v)) for v in value)}]")
        else:
            lines.append(f"{key} = {str(value)!r}")
    text = (f"[{prefix}]\n" if prefix and lines else "") + "\n".join(lines) + "\n"
    for key, value in tables:
        text += _toml(value, f"{prefix}.{key}" if prefix else key)
    return text


class FakeMcu:
    """The firmware on a fake board, polled in a thread, on the master side of a pty."""

    def __init__(self, port: Path) -> None:
        self.master, self.slave = os.openpty()
        port.symlink_to(os.ttyname(self.slave))
        self.clock = FakeTime()
        self.board = FakeBoard(self.clock)
        self.firmware = fw.Firmware(self.board, self.clock, PtyUart(self.master), lock=0)
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            with self.board.lock:
                self.firmware.poll()
            time.sleep(0.001)

    @property
    def relay(self) -> int:
        return int(self.board.pins[fw.PIN_RELAY].level)

    def present_card(self, facility: int, card: int) -> None:
        for bit in encode_card(26, facility, card):
            pin = self.board.pins[fw.PIN_WG_IN_D1 if bit == "1" else fw.PIN_WG_IN_D0]
            with self.board.lock:
                pin.drive(0)
                pin.drive(1)

    def close(self) -> None:
        self._running = False
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def test_kill9_mid_release_never_leaves_the_relay_on_and_loses_no_grant(
    tmp_path: Path, faces_dir: Path, models_mirror: Path, e2e_pipeline: FacePipeline
) -> None:

    camera = empty_camera(tmp_path / "cam")
    port = tmp_path / "ttyMCU"
    door = {
        "backend": "mcu",
        "heartbeat_ms": 100,
        "watchdog_ms": WATCHDOG_MS,
        "unlock_ms": 2000,
        "max_unlock_ms": MAX_UNLOCK_MS,
        "mcu": {"port": str(port)},
    }
    config = make_config(
        tmp_path, models_mirror, camera, door=door, provisioning={"enabled": False}
    )
    photo = resident_frames(faces_dir)[0]
    enrol(config, e2e_pipeline, photo, external_id="card-holder", card=(12, 3456))
    config_file = tmp_path / "menwei.toml"
    config_file.write_text(_toml(config.model_dump(mode="json", exclude_defaults=True)))
    mcu = FakeMcu(port)
    released = 0
    try:
        for _ in range(ROUNDS):
            gateway = subprocess.Popen(
                [sys.executable, "-m", "menwei.main", "run", "--config", str(config_file)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:

                def granted() -> bool:
                    mcu.present_card(12, 3456)
                    return _wait(lambda: mcu.relay == 1, 1.0)

                assert _wait(granted, 60), "the gateway never released the door for the card"
                released += 1
                os.kill(gateway.pid, signal.SIGKILL)  # mid-release: the relay is energised now
                gateway.wait(10)
                off = _wait(lambda: mcu.relay == 0, (MAX_UNLOCK_MS + WATCHDOG_MS) / 1000 + 1)
                assert off, "relay still energised after the host died"
            finally:
                if gateway.poll() is None:
                    gateway.kill()
                    gateway.wait(10)
            assert mcu.relay == 0
    finally:
        mcu.close()
    store = open_store(config.store)
    try:
        with store.sessions.reading() as session:
            grants = session.scalar(
                select(func.count())
                .select_from(AccessEvent)
                .where(AccessEvent.method == Method.CARD, AccessEvent.verdict == Verdict.GRANT)
            )
    finally:
        store.close()
    assert grants is not None and grants >= released == ROUNDS
