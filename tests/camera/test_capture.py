"""CameraCapture: newest frame wins, drops are counted, reconnects back off, errors never crash."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from gateway.camera.backoff import ExponentialBackoff
from gateway.camera.capture import CameraCapture, CapturedFrame, CaptureState, CaptureStatus
from gateway.camera.errors import SourceOpenError, SourceReadError
from gateway.camera.simulated import SimulatedSource, frame_number
from gateway.camera.source import FrameSource, SourceFrame
from tests.camera.conftest import FakeClock

WAIT_S = 20.0  # generous upper bound for anything the thread must reach


class StatusLog:
    """Records every status the capture reports and lets the test wait for one."""

    def __init__(self) -> None:
        self.statuses: list[CaptureStatus] = []
        self._cond = threading.Condition()

    def __call__(self, status: CaptureStatus) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[CaptureStatus]], bool]) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.statuses), WAIT_S), self.states

    def count(self, state: CaptureState) -> int:
        return sum(status.state is state for status in self.statuses)

    @property
    def states(self) -> list[CaptureState]:
        return [status.state for status in self.statuses]


def no_jitter(min_s: float = 0.1, max_s: float = 1.0) -> ExponentialBackoff:
    return ExponentialBackoff(min_s, max_s, jitter=0.0)


@pytest.fixture
def captures() -> Iterator[list[CameraCapture]]:
    """Captures made by a test; all stopped at the end even if the test failed."""
    made: list[CameraCapture] = []
    yield made
    for capture in made:
        assert capture.stop(timeout=WAIT_S)


def make_capture(made: list[CameraCapture], source: FrameSource, **kwargs: object) -> CameraCapture:
    kwargs.setdefault("backoff", no_jitter())
    capture = CameraCapture(source, **kwargs)  # type: ignore[arg-type]
    made.append(capture)
    return capture


def test_slow_consumer_always_gets_the_newest_frame(captures: list[CameraCapture]) -> None:
    source = SimulatedSource(interval_s=0.002, sleep=time.sleep)
    capture = make_capture(captures, source)
    capture.start()
    last_seq, last_number = 0, -1
    for _ in range(15):
        captured_before = capture.status().frames_captured
        frame = capture.latest(after_seq=last_seq, timeout=WAIT_S)
        assert frame is not None
        assert frame.seq > last_seq and frame.seq >= captured_before  # newest, never older
        number = frame_number(frame.image)
        assert number > last_number and number == frame.seq - 1
        last_seq, last_number = frame.seq, number
        deadline = time.monotonic() + WAIT_S  # be slow: let three more frames arrive
        while capture.status().frames_captured < frame.seq + 3:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    status = capture.status()
    assert status.frames_delivered == 15
    assert status.frames_dropped >= 15 * 2
    assert status.frames_captured - status.frames_delivered - status.frames_dropped in (0, 1)


def test_reconnects_with_growing_backoff_until_the_source_works(
    captures: list[CameraCapture],
) -> None:
    clock = FakeClock()
    refused = SourceOpenError("sim: connection refused")
    source = SimulatedSource(open_errors=[refused] * 5, interval_s=0.002, sleep=time.sleep)
    log = StatusLog()
    capture = make_capture(captures, source, clock=clock, sleep=clock.sleep, on_status=log)
    capture.start()
    frame = capture.latest(timeout=WAIT_S)
    assert frame is not None
    assert log.states == [CaptureState.CONNECTING] + [CaptureState.RECONNECTING] * 5 + [
        CaptureState.CONNECTED
    ]
    assert [status.attempt for status in log.statuses[1:6]] == [1, 2, 3, 4, 5]
    assert [status.retry_in_s for status in log.statuses[1:6]] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.0]
    status = capture.status()
    assert status.open_failures == 5 and status.reconnects == 1 and status.attempt == 0
    assert status.last_error == "sim: connection refused"
    assert source.open_calls == 6


def test_a_dropped_stream_reconnects_and_backoff_resets_after_frames(
    captures: list[CameraCapture],
) -> None:
    clock = FakeClock()
    dropped = {n: SourceReadError(f"sim: drop at read {n}") for n in (5, 6, 20)}
    source = SimulatedSource(read_errors=dropped, interval_s=0.002, sleep=time.sleep)
    log = StatusLog()
    capture = make_capture(captures, source, clock=clock, sleep=clock.sleep, on_status=log)
    capture.start()
    log.wait_for(lambda statuses: sum(s.state is CaptureState.CONNECTED for s in statuses) == 4)
    # read 5 fails after frames (attempt 1), read 6 fails at once (attempt 2), read 20 after
    # frames again: the backoff starts over at the minimum
    assert clock.sleeps == [0.1, 0.2, 0.1]
    reconnecting = [s for s in log.statuses if s.state is CaptureState.RECONNECTING]
    assert [s.last_error for s in reconnecting] == [
        "sim: drop at read 5",
        "sim: drop at read 6",
        "sim: drop at read 20",
    ]
    frame = capture.latest(timeout=WAIT_S)
    assert frame is not None
    status = capture.status()
    assert status.read_failures == 3 and status.reconnects == 3
    assert source.close_calls >= 3


def test_a_permanent_error_fails_at_once_without_retrying(captures: list[CameraCapture]) -> None:
    broken = SourceOpenError("file:x.mp4: not a readable video", permanent=True)
    source = SimulatedSource(open_errors=[broken])
    log = StatusLog()
    capture = make_capture(captures, source, on_status=log)
    capture.start()
    started = time.monotonic()
    assert capture.latest(timeout=WAIT_S) is None  # returns at once: nothing can come
    assert time.monotonic() - started < WAIT_S / 2
    log.wait_for(lambda statuses: statuses[-1].state is CaptureState.FAILED)
    status = capture.status()
    assert status.last_error == "file:x.mp4: not a readable video"
    assert status.open_failures == 1 and source.open_calls == 1


def test_gives_up_after_max_attempts(captures: list[CameraCapture]) -> None:
    clock = FakeClock()
    source = SimulatedSource(open_errors=itertools.repeat(SourceOpenError("sim: no route")))
    log = StatusLog()
    capture = make_capture(
        captures, source, max_attempts=3, clock=clock, sleep=clock.sleep, on_status=log
    )
    capture.start()
    log.wait_for(lambda statuses: statuses[-1].state is CaptureState.FAILED)
    status = capture.status()
    assert status.last_error == "sim: no route (gave up after 3 attempts)"
    assert source.open_calls == 3 and clock.sleeps == [0.1, 0.2]


def test_unexpected_exceptions_are_counted_not_fatal(captures: list[CameraCapture]) -> None:
    class Flaky(SimulatedSource):
        def open(self) -> None:
            super().open()
            if self.open_calls == 1:
                raise RuntimeError("backend bug")

        def read(self) -> SourceFrame:
            if self.reads == 2:
                self.reads += 1
                raise ValueError("decoder bug")
            return super().read()

    clock = FakeClock()
    source = Flaky(interval_s=0.002, sleep=time.sleep)
    observed: list[int] = []

    def bad_observer(frame: CapturedFrame, position: float | None) -> None:
        observed.append(frame.seq)
        raise RuntimeError("observer bug")

    capture = make_capture(captures, source, clock=clock, sleep=clock.sleep, observer=bad_observer)
    capture.start()
    last = 0
    for _ in range(5):
        frame = capture.latest(after_seq=last, timeout=WAIT_S)
        assert frame is not None
        last = frame.seq
    status = capture.status()
    assert status.open_failures == 1 and status.read_failures == 1
    assert status.state is CaptureState.CONNECTED and len(observed) >= 5


def test_end_of_file_ends_and_counts_the_frames_nobody_took(
    captures: list[CameraCapture],
) -> None:
    source = SimulatedSource(live=False, length=3)
    log = StatusLog()
    capture = make_capture(captures, source, on_status=log)
    capture.start()
    log.wait_for(lambda statuses: statuses[-1].state is CaptureState.ENDED)
    frame = capture.latest(timeout=WAIT_S)
    assert frame is not None and frame.seq == 3 and frame_number(frame.image) == 2
    assert capture.latest(after_seq=3, timeout=WAIT_S) is None
    status = capture.status()
    assert (status.frames_captured, status.frames_delivered, status.frames_dropped) == (3, 1, 2)


def test_fps_limit_skips_live_frames_and_slows_files(captures: list[CameraCapture]) -> None:
    clock = FakeClock()
    live = SimulatedSource(length=50, interval_s=0.01, sleep=clock.sleep)  # 100 fps camera
    log = StatusLog()
    capture = make_capture(captures, live, fps_limit=20.0, clock=clock, on_status=log)
    capture.start()
    log.wait_for(lambda statuses: statuses[-1].state is CaptureState.ENDED)
    status = capture.status()
    # frames at t = 0.01 .. 0.50 s; one every 0.05 s is published: 0.01, 0.05, 0.10, ..., 0.50
    assert status.frames_captured == 11 and status.frames_skipped == 39

    file_clock = FakeClock()
    file_like = SimulatedSource(live=False, length=5)
    log = StatusLog()
    capture = make_capture(
        captures, file_like, fps_limit=10.0, clock=file_clock, sleep=file_clock.sleep, on_status=log
    )
    capture.start()
    log.wait_for(lambda statuses: statuses[-1].state is CaptureState.ENDED)
    assert file_clock.sleeps == pytest.approx([0.1] * 4)
    assert capture.status().frames_skipped == 0 and capture.status().frames_captured == 5


def test_stop_interrupts_a_long_backoff() -> None:
    source = SimulatedSource(open_errors=itertools.repeat(SourceOpenError("sim: down")))
    log = StatusLog()
    capture = CameraCapture(
        source, backoff=ExponentialBackoff(60.0, 60.0, rng=random.Random(0)), on_status=log
    )
    capture.start()
    log.wait_for(lambda statuses: statuses[-1].state is CaptureState.RECONNECTING)
    started = time.monotonic()
    assert capture.stop(timeout=WAIT_S)
    assert time.monotonic() - started < 10.0  # not the 60 s backoff
    assert capture.status().state is CaptureState.STOPPED
    assert source.close_calls >= 1
    with pytest.raises(RuntimeError):
        capture.start()
