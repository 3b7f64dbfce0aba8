"""The process's write turn on a SQLite store: one writer at a time, the door's lane first.

SQLite has one write lock per database. Left to itself, a writer that finds it taken sleeps and
polls (busy_timeout), so under a stream of short web transactions a door decision can lose the
race again and again until its timeout runs out. Inside one process the writers instead take
turns here: whoever holds the turn holds SQLite's write lock, and when the turn is released it
goes to the waiting writer of the highest-priority lane (the door), first come first served
within a lane. A door decision therefore waits for at most the one transaction in progress,
however many staff-page writers queue behind it. Writers in other processes still meet the lock
itself and wait busy_timeout, as before.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum

from sqlalchemy.exc import SQLAlchemyError

STAFF_PATIENCE = 4  # a staff writer waits this many busy timeouts for its turn


class WriteLane(IntEnum):
    """Who is writing; a lower value goes first."""

    DOOR = 0  # the running service: door decisions, alerts, the station link and its drain
    STAFF = 1  # the staff page: gets the turn only when no door-lane writer is waiting


class WriteTurnTimeout(SQLAlchemyError):
    """No write turn within the store's busy timeout (the in-process 'database is locked')."""


class NestedWrite(RuntimeError):
    """A thread asked for a write turn while holding one (it would wait for itself)."""


@dataclass
class LaneStats:
    """How often a lane waited for its turn and the longest wait, for benchmarks and metrics."""

    turns: int = 0
    waited: int = 0
    longest_wait_s: float = 0.0
    timeouts: int = 0


@dataclass
class _Queue:
    heap: list[tuple[int, int]] = field(default_factory=list)
    holder: int | None = None  # thread ident of the writer holding the turn


class WriteGate:
    """Grants the write turn to one thread at a time, by lane then arrival.

    A door-lane writer waits at most `timeout_s` (the store's busy timeout), as it would for
    SQLite's lock. A staff-lane writer waits `STAFF_PATIENCE` times longer: it yields to every
    door writer, and those may each be waiting for another process's lock meanwhile."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.timeouts = {WriteLane.DOOR: timeout_s, WriteLane.STAFF: STAFF_PATIENCE * timeout_s}
        self._condition = threading.Condition()
        self._queue = _Queue()
        self._tickets = itertools.count()
        self.stats = {lane: LaneStats() for lane in WriteLane}

    @contextmanager
    def turn(self, lane: WriteLane) -> Iterator[None]:
        """Hold the write turn for the block; raises WriteTurnTimeout after `timeout_s`."""
        self._acquire(lane)
        try:
            yield
        finally:
            with self._condition:
                self._queue.holder = None
                self._condition.notify_all()

    def _acquire(self, lane: WriteLane) -> None:
        me = threading.get_ident()
        ticket = (int(lane), next(self._tickets))
        begin = time.monotonic()
        deadline = begin + self.timeouts[lane]
        stats = self.stats[lane]
        with self._condition:
            if self._queue.holder == me:
                raise NestedWrite("this thread already holds the store's write turn")
            heapq.heappush(self._queue.heap, ticket)
            try:
                while self._queue.holder is not None or self._queue.heap[0] != ticket:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        stats.timeouts += 1
                        raise WriteTurnTimeout(
                            f"database is locked: no write turn for the {lane.name.lower()} "
                            f"lane within {self.timeouts[lane]:.1f} s"
                        )
                    self._condition.wait(remaining)
            except BaseException:
                self._queue.heap.remove(ticket)
                heapq.heapify(self._queue.heap)
                self._condition.notify_all()
                raise
            heapq.heappop(self._queue.heap)
            self._queue.holder = me
        waited = time.monotonic() - begin
        stats.turns += 1
        if waited > 0.001:
            stats.waited += 1
        stats.longest_wait_s = max(stats.longest_wait_s, waited)
