"""The command inbox between paho's network thread and the command worker: bounded, never blocking.

Commands arrive at QoS 1 and are acknowledged to the broker only after their result is committed
(manual ack), so the broker never has more than the link's Receive Maximum of them in flight to
this gateway: the QoS 1 lane is bounded by the broker's flow control, and a flood waits at the
broker, not in this process's memory. QoS 0 messages are not flow-controlled, so they get a small
lane of their own that drops (and counts) when full; they are taken only when no acknowledged
command waits, so junk sent at QoS 0 can never delay or push out a real command. A payload larger
than its topic's limit is not kept at all: its item carries only the size, and is refused
`too_large` without the bytes. Large payloads (sync deltas) that are kept are held to a byte budget;
over it they are refused `busy` (the station retries) instead of piling up in memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class IncomingCommand:
    """One message from `cmd/<name>` as paho delivered it (payload None when not kept)."""

    topic: str
    payload: bytes | None
    size: int
    mid: int
    qos: int
    dup: bool
    retained: bool
    generation: int  # the connection it arrived on: an ack is only valid on the same one
    over_budget: bool = False
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class InboxCounters:
    dropped_qos0: int = 0
    over_budget: int = 0
    oversized: int = 0


class CommandInbox:
    """Two FIFO lanes (acknowledged QoS 1/2, best-effort QoS 0) and a byte budget."""

    def __init__(self, qos0_capacity: int, byte_budget: int, budget_from: int) -> None:
        self.qos0_capacity = qos0_capacity
        self.byte_budget = byte_budget
        self.budget_from = budget_from  # smaller payloads always kept (flow control bounds them)
        self.counters = InboxCounters()
        self._acked: deque[IncomingCommand] = deque()
        self._best_effort: deque[IncomingCommand] = deque()
        self._bytes = 0
        self._closed = False
        self._ready = threading.Condition()

    def put(self, item: IncomingCommand) -> bool:
        """Queue an item (never blocks); False when a QoS 0 item was dropped."""
        with self._ready:
            if item.payload is None:
                self.counters.oversized += 1
            elif item.size > self.budget_from and self._bytes + item.size > self.byte_budget:
                item.payload, item.over_budget = None, True  # answered `busy`, bytes released
                self.counters.over_budget += 1
            if item.qos == 0:
                if len(self._best_effort) >= self.qos0_capacity:
                    self.counters.dropped_qos0 += 1
                    return False
                self._best_effort.append(item)
            else:
                self._acked.append(item)
            if item.payload is not None:
                self._bytes += item.size
            self._ready.notify()
            return True

    def get(self, timeout: float | None = None) -> IncomingCommand | None:
        """The next item (acknowledged lane first), or None when closed or on timeout."""
        with self._ready:
            if not self._ready.wait_for(
                lambda: self._closed or self._acked or self._best_effort, timeout
            ):
                return None
            if self._closed:
                return None
            item = self._acked.popleft() if self._acked else self._best_effort.popleft()
            return item

    def release(self, item: IncomingCommand) -> None:
        """The worker is done with the item's payload: give its bytes back to the budget."""
        with self._ready:
            if item.payload is not None:
                self._bytes -= item.size
                item.payload = None

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return len(self._acked) + len(self._best_effort)

    @property
    def queued_bytes(self) -> int:
        with self._ready:
            return self._bytes
