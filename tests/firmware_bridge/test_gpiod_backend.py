"""gpiod backend: line settings (polarity in one place), missing-chip errors, and the backend's
logic against a fake kernel line request that speaks libgpiod v2's API (no GPIO chip here)."""

from __future__ import annotations

import queue
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gpiod.edge_event import EdgeEvent
from gpiod.line import Bias, Direction, Edge, Value

from firmware_bridge.backends.gpiod_backend import GpiodDoorIO, line_settings
from firmware_bridge.config import DoorConfig
from firmware_bridge.io import DoorOpened, HardwareError, LinkChanged, WiegandReceived
from firmware_bridge.wiegand import CardRead, encode_card
from firmware_bridge.wiegand_edges import pulses_for


def config(chip: str = "/dev/gpiochip0", **door: Any) -> DoorConfig:
    return DoorConfig.model_validate(
        {
            "backend": "gpiod",
            "gpiod": {
                "chip": chip,
                "relay_active_low": True,
                "exit_button": {"line": "21", "inverted": False, "bias": "pull_down"},
            },
            **door,
        }
    )


def test_missing_chip_error_names_chip_and_lines() -> None:
    io = GpiodDoorIO(config("/dev/gpiochip9"))
    with pytest.raises(
        HardwareError,
        match=r"GPIO chip /dev/gpiochip9 not found.*relay line "
        r"GPIO17.*GPIO27",
    ):
        io.start()


def test_real_request_on_a_non_chip_reports_missing_lines(tmp_path: Path) -> None:
    not_a_chip = tmp_path / "gpiochip0"
    not_a_chip.write_text("")
    with pytest.raises(HardwareError, match=rf"cannot request GPIO lines on {not_a_chip}"):
        GpiodDoorIO(config(str(not_a_chip))).start()


def test_polarity_bias_and_debounce_in_the_line_settings() -> None:
    settings = line_settings(config())
    relay = settings["GPIO17"]
    assert (relay.direction, relay.active_low, relay.output_value) == (
        Direction.OUTPUT,
        True,
        Value.INACTIVE,
    )
    door = settings["GPIO27"]
    assert (door.active_low, door.bias, door.edge_detection, door.debounce_period) == (
        True,
        Bias.PULL_UP,
        Edge.BOTH,
        timedelta(milliseconds=20),
    )
    exit_button = settings[21]  # digits are offsets
    assert (exit_button.active_low, exit_button.bias) == (False, Bias.PULL_DOWN)
    assert settings["GPIO5"].debounce_period == timedelta(0)  # Wiegand: 50 us pulses


class FakeLineRequest:
    """Kernel line request as libgpiod v2 exposes it: logical values, edge events with
    CLOCK_MONOTONIC timestamps."""

    def __init__(self, config: dict[Any, Any], output_values: dict[Any, Value]) -> None:
        self.lines = list(config)
        self.offsets = list(range(len(self.lines)))
        self.values = {line: Value.INACTIVE for line in self.lines}
        self.values.update(output_values)
        self.initial = dict(output_values)
        self.writes: list[tuple[Any, Value]] = []
        self.edges: queue.Queue[EdgeEvent] = queue.Queue()
        self.released = False

    def set_value(self, line: Any, value: Value) -> None:
        self.values[line] = value
        self.writes.append((line, value))

    def get_value(self, line: Any) -> Value:
        return self.values[line]

    def wait_edge_events(self, timeout: timedelta) -> bool:
        if self.edges.empty():
            time.sleep(timeout.total_seconds())
        return not self.edges.empty()

    def read_edge_events(self) -> list[EdgeEvent]:
        events = []
        while not self.edges.empty():
            events.append(self.edges.get())
        return events

    def edge(self, line: Any, active: bool, timestamp_ns: int) -> None:
        self.values[line] = Value.ACTIVE if active else Value.INACTIVE
        kind = EdgeEvent.Type.RISING_EDGE if active else EdgeEvent.Type.FALLING_EDGE
        self.edges.put(EdgeEvent(kind.value, timestamp_ns, self.lines.index(line), 0, 0))

    def release(self) -> None:
        self.released = True


@pytest.fixture
def wired(tmp_path: Path) -> Any:
    chip = tmp_path / "gpiochip0"
    chip.write_text("")
    requests: list[FakeLineRequest] = []

    def requester(
        path: str, consumer: str, config: dict[Any, Any], output_values: dict[Any, Value]
    ) -> FakeLineRequest:
        requests.append(FakeLineRequest(config, output_values))
        return requests[-1]

    io = GpiodDoorIO(config(str(chip), max_unlock_ms=500, unlock_ms=300), requester=requester)
    io.start()
    yield io, requests[0]
    io.stop()
    assert requests[0].released and requests[0].values["GPIO17"] == Value.INACTIVE


def test_safe_state_before_and_after_request_and_capped_release(wired: Any) -> None:
    io, request = wired
    assert request.initial == {"GPIO17": Value.INACTIVE}
    assert request.writes[0] == ("GPIO17", Value.INACTIVE)
    io.release(10_000)
    assert request.values["GPIO17"] == Value.ACTIVE
    deadline = time.monotonic() + 2
    while request.values["GPIO17"] == Value.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 0.45 < 2 - (deadline - time.monotonic()) < 1.0  # capped at max_unlock_ms (500 ms)


def test_edges_become_events_and_wiegand_uses_kernel_timestamps(wired: Any) -> None:
    io, request = wired
    now = time.monotonic_ns()
    request.edge("GPIO27", True, now)
    bits = encode_card(26, 99, 12345)
    for line, active, at in pulses_for(bits, 50_000, 1_000_000, now):
        request.edge("GPIO6" if line else "GPIO5", active, at)
    seen: list[Any] = []
    deadline = time.monotonic() + 2
    while len(seen) < 2 and time.monotonic() < deadline:
        seen += io.read_events(0.05)
    assert isinstance(seen[0], DoorOpened) and seen[0].at_ns == now
    assert isinstance(seen[1], WiegandReceived)
    assert seen[1].read == CardRead(26, 99, 12345, bits)
    assert io.inputs().door_open is True


def test_wiegand_out_refused_without_best_effort_opt_in(wired: Any) -> None:
    io, _ = wired
    with pytest.raises(HardwareError, match="needs the mcu backend"):
        io.send_wiegand(encode_card(26, 1, 1))


def test_chip_failure_at_runtime_reports_link_down_and_drops_relay(wired: Any) -> None:
    io, request = wired
    io.release(300)

    def gone(timeout: timedelta) -> bool:
        raise OSError(19, "No such device")

    request.wait_edge_events = gone
    deadline = time.monotonic() + 2
    seen: list[Any] = []
    while not seen and time.monotonic() < deadline:
        seen += io.read_events(0.05)
    assert (
        isinstance(seen[0], LinkChanged) and not seen[0].up and "No such device" in seen[0].detail
    )
    assert request.values["GPIO17"] == Value.INACTIVE
    assert io.counters()["link.gpio_error"] == 1
