"""The capture thread: reads a `FrameSource` continuously and keeps only the newest frame.

There is no queue: a frame nobody took before the next one arrived is overwritten and counted as
dropped, so a slow consumer always works on the freshest picture, never on a backlog. A failed
open or read leads to a reconnect with exponential backoff; a permanent error (not a video, an
empty folder) or too many consecutive failures end in the 'failed' state. Every error is
counted and kept as `last_error`; none escapes the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

from gateway.camera.backoff import ExponentialBackoff
from gateway.camera.errors import EndOfStream, FrameDecodeError, SourceOpenError, SourceReadError
from gateway.camera.source import Clock, FrameSource, Sleeper
from gateway.vision.image_io import BGRImage

log = logging.getLogger(__name__)


class CaptureState(StrEnum):
    """Where the capture thread is; shown on the status page."""

    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # first open in progress
    CONNECTED = "connected"  # open; frames are being read
    RECONNECTING = "reconnecting"  # a failure happened; waiting or retrying
    FAILED = "failed"  # gave up: permanent error or too many attempts
    ENDED = "ended"  # a file or folder that does not loop ran out
    STOPPED = "stopped"  # stop() was called


FINAL_STATES = frozenset({CaptureState.FAILED, CaptureState.ENDED, CaptureState.STOPPED})


class CapturedFrame(NamedTuple):
    """A published frame: unpack as `seq, timestamp, image`."""

    seq: int  # 1, 2, 3, ... per capture; gaps are frames dropped before anyone took them
    timestamp: float  # capture clock (monotonic) when the frame was read
    image: BGRImage


@dataclass(frozen=True)
class CaptureStatus:
    """A consistent snapshot of the capture's state and counters."""

    source: str
    state: CaptureState = CaptureState.IDLE
    since: float = 0.0  # capture clock when `state` was entered
    last_error: str | None = None  # most recent error, kept after recovery for the status page
    attempt: int = 0  # consecutive failed attempts (0 while healthy)
    retry_in_s: float | None = None  # backoff delay chosen for the current wait
    frames_captured: int = 0
    frames_delivered: int = 0  # taken by a consumer
    frames_dropped: int = 0  # overwritten before any consumer took them
    frames_skipped: int = 0  # discarded to respect fps_limit on a live source
    open_failures: int = 0
    read_failures: int = 0
    decode_failures: int = 0
    reconnects: int = 0  # successful opens after a failure


FrameObserver = Callable[[CapturedFrame, "float | None"], object]
StatusListener = Callable[[CaptureStatus], None]


class CameraCapture:
    """Owns one capture thread over one source; `start()`, `latest()`, `status()`, `stop()`."""

    def __init__(
        self,
        source: FrameSource,
        *,
        backoff: ExponentialBackoff,
        fps_limit: float = 0.0,
        max_attempts: int = 0,
        max_consecutive_decode_errors: int = 10,
        observer: FrameObserver | None = None,
        on_status: StatusListener | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleeper | None = None,
    ) -> None:
        self._source = source
        self._backoff = backoff
        self._min_interval = 1.0 / fps_limit if fps_limit > 0 else 0.0
        self._max_attempts = max_attempts
        self._max_decode_errors = max_consecutive_decode_errors
        self._observer = observer
        self._on_status = on_status
        self._clock = clock
        self._sleep: Sleeper = sleep or self._interruptible_sleep
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._status = CaptureStatus(source=source.description, since=clock())
        self._slot: CapturedFrame | None = None
        self._slot_taken = False
        self._thread: threading.Thread | None = None
        self._observer_failed = False

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the capture thread (once per instance)."""
        if self._thread is not None:
            raise RuntimeError("CameraCapture.start() called twice; build a new capture")
        self._thread = threading.Thread(
            target=self._run, name=f"capture:{self._source.description}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 15.0) -> bool:
        """Ask the thread to stop and wait for it; False if it is still blocked (e.g. in a
        stream open that only returns after its open timeout)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is None:
            self._set_state(CaptureState.STOPPED)
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- consumer side ---------------------------------------------------------------------

    def status(self) -> CaptureStatus:
        with self._cond:
            return self._status

    def latest(self, after_seq: int = 0, timeout: float | None = None) -> CapturedFrame | None:
        """The newest frame with `seq > after_seq`, waiting up to `timeout` seconds for one.

        Returns None on timeout, or at once when no newer frame can come (failed, ended,
        stopped). Pass the seq of the frame you last had to never get it, or an older one, again.
        """

        def ready() -> bool:
            fresh = self._slot is not None and self._slot.seq > after_seq
            return fresh or self._status.state in FINAL_STATES

        with self._cond:
            self._cond.wait_for(ready, timeout)
            frame = self._slot
            if frame is None or frame.seq <= after_seq:
                return None
            if not self._slot_taken:
                self._slot_taken = True
                self._update(frames_delivered=self._status.frames_delivered + 1)
            return frame

    # --- capture thread --------------------------------------------------------------------

    def _interruptible_sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _run(self) -> None:
        try:
            self._connect_loop()
        except Exception as error:  # a bug must be visible, not a silently dead thread
            log.exception("capture thread for %s crashed", self._source.description)
            self._set_state(CaptureState.FAILED, last_error=f"internal error: {error!r}")
        finally:
            try:
                self._source.close()
            except Exception:
                log.exception("closing %s failed", self._source.description)
            if self._stop.is_set() and self.status().state not in FINAL_STATES:
                self._set_state(CaptureState.STOPPED)
            elif self._stop.is_set():
                with self._cond:
                    self._cond.notify_all()

    def _connect_loop(self) -> None:
        failures = 0
        self._set_state(CaptureState.CONNECTING)
        while not self._stop.is_set():
            try:
                self._source.open()
            except Exception as error:
                self._count(open_failures=1)
                if isinstance(error, SourceOpenError):
                    if error.permanent:
                        self._set_state(CaptureState.FAILED, last_error=str(error))
                        return
                    text = str(error)
                else:  # e.g. cv2.error from a backend: log it, then retry like any failure
                    log.exception("unexpected error opening %s", self._source.description)
                    text = f"unexpected open error: {error!r}"
                failures += 1
                if not self._wait_before_retry(failures, text):
                    return
                continue
            if failures:
                self._count(reconnects=1)
            self._set_state(CaptureState.CONNECTED, attempt=0, retry_in_s=None)
            error_text, frames_read = self._pump()
            self._source.close()
            if error_text is None:  # stopped or ended
                return
            failures = 1 if frames_read else failures + 1
            if not self._wait_before_retry(failures, error_text):
                return

    def _wait_before_retry(self, failures: int, error_text: str) -> bool:
        """Record the failure and sleep the backoff delay; False when giving up or stopping."""
        log.warning("camera attempt %d failed: %s", failures, error_text)
        if self._max_attempts and failures >= self._max_attempts:
            self._set_state(
                CaptureState.FAILED,
                last_error=f"{error_text} (gave up after {failures} attempts)",
                attempt=failures,
                retry_in_s=None,
            )
            return False
        delay = self._backoff.delay(failures)
        self._set_state(
            CaptureState.RECONNECTING, last_error=error_text, attempt=failures, retry_in_s=delay
        )
        self._sleep(delay)
        return not self._stop.is_set()

    def _pump(self) -> tuple[str | None, int]:
        """Read until stop, end or failure: (error text or None, frames read)."""
        frames_read = 0
        decode_errors = 0
        next_due = 0.0
        while not self._stop.is_set():
            try:
                frame = self._source.read()
            except EndOfStream:
                self._set_state(CaptureState.ENDED)
                return None, frames_read
            except FrameDecodeError as error:
                self._count(decode_failures=1)
                decode_errors += 1
                self._update(last_error=str(error))
                if decode_errors >= self._max_decode_errors:
                    return f"{decode_errors} undecodable frames in a row: {error}", frames_read
                continue
            except SourceReadError as error:
                self._count(read_failures=1)
                return str(error), frames_read
            except Exception as error:
                log.exception("unexpected error reading %s", self._source.description)
                self._count(read_failures=1)
                return f"unexpected read error: {error!r}", frames_read
            decode_errors = 0
            frames_read += 1
            now = self._clock()
            if self._min_interval:
                # A frame up to a quarter interval early is on time (camera clocks jitter); the
                # schedule advances from the due time, not the frame time, so the average rate
                # stays at fps_limit, and restarts after a gap instead of bursting to catch up.
                if now < next_due - 0.25 * self._min_interval:
                    if self._source.is_live:
                        self._count(frames_skipped=1)
                        continue
                    self._sleep(next_due - now)
                    now = self._clock()
                behind = now - next_due >= self._min_interval
                next_due = (now if behind else next_due) + self._min_interval
            self._publish(frame.image, frame.position, now)
        return None, frames_read

    def _publish(self, image: BGRImage, position: float | None, now: float) -> None:
        with self._cond:
            seq = self._status.frames_captured + 1
        captured = CapturedFrame(seq, now, image)
        if self._observer is not None:
            try:  # before publishing: a consumer that draws on the frame cannot affect it
                self._observer(captured, position)
            except Exception:
                if not self._observer_failed:
                    log.exception("frame observer failed (logged once)")
                self._observer_failed = True
        with self._cond:
            dropped = self._slot is not None and not self._slot_taken
            self._slot = captured
            self._slot_taken = False
            self._update(
                frames_captured=seq, frames_dropped=self._status.frames_dropped + int(dropped)
            )
            self._cond.notify_all()

    # --- status bookkeeping ----------------------------------------------------------------

    def _update(self, **changes: object) -> None:
        """Replace status fields; caller holds or takes the lock."""
        with self._cond:
            self._status = replace(self._status, **changes)  # type: ignore[arg-type]

    def _count(self, **increments: int) -> None:
        with self._cond:
            changes = {
                name: getattr(self._status, name) + step for name, step in increments.items()
            }
            self._status = replace(self._status, **changes)

    def _set_state(self, state: CaptureState, **changes: object) -> None:
        with self._cond:
            self._status = replace(
                self._status,
                state=state,
                since=self._clock(),
                **changes,  # type: ignore[arg-type]
            )
            status = self._status
            self._cond.notify_all()
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:
                log.exception("capture status listener failed")
