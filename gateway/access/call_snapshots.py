"""The caller's snapshot, held in memory only for the lifetime of its visitor call.

One JPEG per ringing call, keyed by call id. It is never written to the store or to disk, never
turned into a template and never shown to recognition: the link reads it once to attach it to the
call's `placed` message, and `discard` drops it when the call ends (accepted, declined, missed),
so nothing of the caller stays once the call is over. The holder is bounded (`max_calls`): a
flood of calls cannot make it grow without limit (the oldest snapshot is dropped first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class CallSnapshots:
    """Thread-safe: the door thread puts, the link's drain reads, the call desk discards."""

    def __init__(self, max_calls: int = 32) -> None:
        self.max_calls = max_calls
        self._jpegs: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, call_id: str, jpeg: bytes) -> None:
        with self._lock:
            self._jpegs[call_id] = jpeg
            while len(self._jpegs) > self.max_calls:
                self._jpegs.popitem(last=False)

    def get(self, call_id: str) -> bytes | None:
        with self._lock:
            return self._jpegs.get(call_id)

    def discard(self, call_id: str) -> None:
        with self._lock:
            self._jpegs.pop(call_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jpegs)

    def held(self) -> list[str]:
        """The call ids whose snapshot is still held (tests and status)."""
        with self._lock:
            return list(self._jpegs)
