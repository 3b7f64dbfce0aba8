"""The outbox drain: publishes undelivered rows in order and marks them delivered on PUBACK.

One thread owns all drain state. At most `window` QoS 1 messages await their PUBACK (the configured
`inflight_window`, lowered to the broker's MQTT 5 Receive Maximum when that is smaller); paho
keeps them and re-sends them (same packet, DUP set) after a reconnect, so a broker outage costs
nothing. A row is marked delivered only when it and every row before it were acknowledged (the
watermark), so a crash re-sends from the first unacknowledged row: duplicates carry the same id,
nothing is lost. A PUBACK with an MQTT 5 failure code (e.g. 0x87 Not authorized by the broker's
ACL) is reported in `last_error` and the rows are retried after a pause. Replay requests re-send a
sequence range (delivered or not) with `replayed: true`, through the same window.

The watermark is written in batches: at most every MARK_EVERY_S, after the window was refilled,
so publishing never waits for the store's write lock and other writers cost the drain one
short transaction per batch instead of one per PUBACK round (a crash re-sends at most the last
batch, with the same ids). A mark that cannot get the lock is retried at the next batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from gateway.config.station import StationConfig
from gateway.station.envelope import CallSnapshot, OutgoingMessage, build_message
from gateway.station.outbox_rows import compact, delete_expired, pending_after, rows_in_range
from gateway.station.topics import Topics
from gateway.store.events import mark_delivered
from gateway.store.store import Store

LOG = logging.getLogger(__name__)
# topic, payload, qos, retain -> paho mid, or None when paho did not take the message
Publish = Callable[[str, bytes, int, bool], int | None]
CONTROL = -1  # owner of a mid published for the link itself (availability, status, telemetry)
FAILURE_PAUSE_S = 5.0
HOUSEKEEPING_EVERY_S = 60.0
MARK_EVERY_S = 0.5


@dataclass(frozen=True)
class ReplayRequest:
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class ControlMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass
class DrainCounters:
    published: int = 0
    acknowledged: int = 0
    refused_by_broker: int = 0
    replayed: int = 0
    compacted: int = 0
    marked_delivered: int = 0


class OutboxDrain:
    """Drains one gateway's outbox through `publish`; `on_puback` is called by the MQTT thread."""

    def __init__(
        self,
        store: Store,
        gateway_id: str,
        topics: Topics,
        config: StationConfig,
        publish: Publish,
        now: Callable[[], datetime],
        call_snapshot: CallSnapshot | None = None,
    ) -> None:
        self.store = store
        self.call_snapshot = call_snapshot
        self.gateway_id = gateway_id
        self.topics = topics
        self.config = config
        self._publish = publish
        self.now = now
        self.counters = DrainCounters()
        self.window = config.inflight_window
        self.last_error: str | None = None
        self._acks: queue.SimpleQueue[tuple[int, bool, str]] = queue.SimpleQueue()
        self._replays: queue.SimpleQueue[ReplayRequest] = queue.SimpleQueue()
        self._controls: queue.SimpleQueue[ControlMessage] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connected = False
        # mid -> outbox seq; None for a replayed message; CONTROL for the link's own messages.
        # Every publish goes through this thread, so a mid is registered before its ack is read.
        self._inflight: dict[int, int | None] = {}
        self._last_sent = 0
        self._marked = 0
        self._retry_from: int | None = None
        self._paused_until = 0.0
        self._replay_rows: list[OutgoingMessage] = []
        self._replay_cursor: tuple[ReplayRequest, int] | None = None
        self._next_housekeeping = 0.0
        self._next_mark = 0.0
        self.mark_failures = 0
        self._thread: threading.Thread | None = None

    # --- called from other threads -------------------------------------------------------
    def on_puback(self, mid: int, failed: bool, reason: str) -> None:
        self._acks.put((mid, failed, reason))
        self._wake.set()

    def set_connected(self, connected: bool) -> None:
        self._connected = connected
        self._wake.set()

    def notify(self) -> None:
        """New rows were enqueued: drain them now instead of at the next poll."""
        self._wake.set()

    def publish_control(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish a non-outbox message (availability, status) from the drain thread."""
        self._controls.put(ControlMessage(topic, payload, qos, retain))
        self._wake.set()

    def request_replay(self, first_seq: int, last_seq: int) -> None:
        self._replays.put(ReplayRequest(first_seq, last_seq))
        self._wake.set()

    @property
    def delivered_up_to(self) -> int:
        return self._marked

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="station-drain", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._process_acks()
        self._mark_watermark(force=True)

    # --- the drain thread ---------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception as error:  # a store hiccup must not end the drain
                self.last_error = f"drain error: {error}"
                LOG.exception("station drain step failed; retrying")
                self._stopping.wait(1.0)
            self._wake.wait(0.2)
            self._wake.clear()

    def _step(self) -> None:
        self._process_acks()
        if self._connected and time.monotonic() >= self._paused_until:
            if self._retry_from is not None and not self._inflight:
                self._last_sent = self._retry_from - 1
                self._retry_from = None
            if self._retry_from is None:
                self._fill_window()
        self._mark_watermark()
        self._housekeeping()

    def _window_free(self) -> int:
        return self.window - len(self._inflight)

    def _send(self, message: OutgoingMessage, seq: int | None) -> bool:
        mid = self._publish(message.topic, message.payload, 1, False)
        if mid is None:
            return False
        self._inflight[mid] = seq
        return True

    def _send_controls(self) -> None:
        while self._window_free() > 0:
            try:
                control = self._controls.get_nowait()
            except queue.Empty:
                return
            mid = self._publish(control.topic, control.payload, control.qos, control.retain)
            if mid is not None and control.qos > 0:  # QoS 0 has no PUBACK to wait for
                self._inflight[mid] = CONTROL

    def _fill_window(self) -> None:
        self._send_controls()
        self._fill_replays()
        while self._window_free() > 0 and self._connected and not self._stopping.is_set():
            limit = min(self.config.batch_size, self._window_free())
            with self.store.sessions.reading() as session:
                rows = pending_after(session, self.gateway_id, self._last_sent, limit)
                messages = [
                    build_message(
                        session,
                        row,
                        self.topics,
                        max_snapshot_bytes=self.config.max_snapshot_bytes,
                        call_snapshot=self.call_snapshot,
                    )
                    for row in rows
                ]
            if not messages:
                return
            for message in messages:
                if not self._send(message, message.seq):
                    return
                self._last_sent = message.seq
                self.counters.published += 1
            self._process_acks()

    def _fill_replays(self) -> None:
        while self._window_free() > 0:
            if not self._replay_rows and not self._load_replay_rows():
                return
            message = self._replay_rows[0]
            if not self._send(message, None):
                return
            self._replay_rows.pop(0)
            self.counters.replayed += 1

    def _load_replay_rows(self) -> bool:
        if self._replay_cursor is None:
            try:
                request = self._replays.get_nowait()
            except queue.Empty:
                return False
            last = min(request.last_seq, request.first_seq + self.config.max_replay - 1)
            self._replay_cursor = (ReplayRequest(request.first_seq, last), request.first_seq)
        request, next_seq = self._replay_cursor
        with self.store.sessions.reading() as session:
            rows = rows_in_range(
                session, self.gateway_id, next_seq, request.last_seq, self.config.batch_size
            )
            self._replay_rows = [
                build_message(
                    session,
                    row,
                    self.topics,
                    max_snapshot_bytes=self.config.max_snapshot_bytes,
                    replayed=True,
                    call_snapshot=self.call_snapshot,
                )
                for row in rows
            ]
        if not rows or rows[-1].seq >= request.last_seq:
            self._replay_cursor = None
        else:
            self._replay_cursor = (request, rows[-1].seq + 1)
        return bool(self._replay_rows) or self._replay_cursor is not None

    def _process_acks(self) -> None:
        while True:
            try:
                mid, failed, reason = self._acks.get_nowait()
            except queue.Empty:
                return
            if mid in self._inflight:
                self._settle(mid, failed, reason)

    def _settle(self, mid: int, failed: bool, reason: str) -> None:
        seq = self._inflight.pop(mid)
        if not failed:
            self.counters.acknowledged += 1
            return
        self.counters.refused_by_broker += 1
        self.last_error = f"broker refused a publish ({reason}): check the topic ACL"
        LOG.error("%s; retrying in %.0f s", self.last_error, FAILURE_PAUSE_S)
        self._paused_until = time.monotonic() + FAILURE_PAUSE_S
        if seq is not None and seq != CONTROL:
            self._retry_from = seq if self._retry_from is None else min(self._retry_from, seq)

    def _watermark(self) -> int:
        pending = [seq for seq in self._inflight.values() if seq is not None and seq != CONTROL]
        if self._retry_from is not None:
            pending.append(self._retry_from)
        return min(pending) - 1 if pending else self._last_sent

    def _mark_watermark(self, force: bool = False) -> None:
        """Write the watermark if it moved and the batch is due (or `force`)."""
        watermark = self._watermark()
        if watermark <= self._marked or (not force and time.monotonic() < self._next_mark):
            return
        self._next_mark = time.monotonic() + MARK_EVERY_S
        try:
            with self.store.sessions.writing() as session:
                self.counters.marked_delivered += mark_delivered(
                    session, self.gateway_id, watermark, self.now()
                )
        except SQLAlchemyError as error:  # the rows stay acknowledged in memory: next batch
            self.mark_failures += 1
            LOG.warning("could not mark rows up to %d delivered yet: %s", watermark, error)
            return
        self._marked = watermark

    def _housekeeping(self) -> None:
        if time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY_S
        self.compact_now()
        with self.store.sessions.writing() as session:
            delete_expired(
                session, self.gateway_id, timedelta(days=self.config.retention_days), self.now()
            )

    def compact_now(self) -> int:
        with self.store.sessions.writing() as session:
            skipped = compact(session, self.gateway_id, self.config.max_pending, self.now())
        if skipped:
            self.counters.compacted += skipped
            LOG.warning(
                "outbox over %d rows: %d routine events compacted", self.config.max_pending, skipped
            )
        return skipped
