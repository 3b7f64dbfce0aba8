"""Wiegand input decoding from timestamped pulse edges (gpiod edge events or the MCU's IRQs).

A reader pulls DATA0 or DATA1 low for ~50-100 us per bit. The caller reports logical edges
(`asserted=True` when a line goes active; polarity was already resolved where the line was
requested) with monotonic timestamps in nanoseconds. A frame ends when both lines have been idle
for `frame_gap_ns`. Pulses shorter than `min_pulse_ns`, both lines asserted at once, or a line
stuck asserted spoil the frame: it is rejected and counted, never decoded.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.counters import Counters
from firmware_bridge.wiegand import WiegandError, WiegandRead, decode


@dataclass(frozen=True)
class RejectedFrame:
    """A frame that was noise or failed its checks; `reason` matches the counter name."""

    reason: str
    detail: str
    bits: str


FrameResult = WiegandRead | RejectedFrame


class WiegandEdgeDecoder:
    """Accumulates bits from edges and yields a result per completed frame."""

    def __init__(self, frame_gap_ns: int, min_pulse_ns: int, counters: Counters) -> None:
        self._gap_ns = frame_gap_ns
        self._min_pulse_ns = min_pulse_ns
        self._counters = counters
        self._pulse_start: list[int | None] = [None, None]
        self._bits: list[str] = []
        self._spoiled: tuple[str, str] | None = None
        self._last_activity_ns = 0
        self._active = False

    def edge(self, line: int, asserted: bool, timestamp_ns: int) -> list[FrameResult]:
        """Feed one edge of DATA0 (`line=0`) or DATA1 (`line=1`); returns finished frames."""
        if line not in (0, 1):
            raise ValueError(f"Wiegand line must be 0 or 1, got {line}")
        results = self.flush(timestamp_ns)
        self._active = True
        self._last_activity_ns = timestamp_ns
        other = 1 - line
        if asserted:
            if self._pulse_start[other] is not None:
                self._spoil(
                    "overlap", f"DATA0 and DATA1 asserted together at bit {len(self._bits)}"
                )
            self._pulse_start[line] = timestamp_ns
            return results
        start = self._pulse_start[line]
        self._pulse_start[line] = None
        if start is None:
            return results  # release without a press: the frame started before we watched
        if timestamp_ns - start < self._min_pulse_ns:
            self._spoil("glitch", f"{timestamp_ns - start} ns pulse on DATA{line}")
        else:
            self._bits.append(str(line))
        return results

    def flush(self, now_ns: int) -> list[FrameResult]:
        """Complete the pending frame if the lines have been idle long enough."""
        if not self._active or now_ns - self._last_activity_ns < self._gap_ns:
            return []
        if any(start is not None for start in self._pulse_start):
            self._spoil("stuck", "a data line stayed asserted longer than the frame gap")
        return [self._finish()]

    def _spoil(self, reason: str, detail: str) -> None:
        if self._spoiled is None:
            self._spoiled = (reason, detail)

    def _finish(self) -> FrameResult:
        bits = "".join(self._bits)
        spoiled = self._spoiled
        self._bits = []
        self._spoiled = None
        self._pulse_start = [None, None]
        self._active = False
        if spoiled is None:
            try:
                return decode(bits)
            except WiegandError as error:
                spoiled = (error.reason, error.detail)
        self._counters.add(f"rejected.wiegand.{spoiled[0]}")
        return RejectedFrame(spoiled[0], spoiled[1], bits)


def pulses_for(
    bits: str, pulse_ns: int, interval_ns: int, start_ns: int
) -> list[tuple[int, bool, int]]:
    """The (line, asserted, timestamp_ns) edges a reader emits for `bits`: tests and simulation."""
    edges: list[tuple[int, bool, int]] = []
    for index, bit in enumerate(bits):
        at = start_ns + index * interval_ns
        edges.append((int(bit), True, at))
        edges.append((int(bit), False, at + pulse_ns))
    return edges
