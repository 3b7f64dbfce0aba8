"""The live feed: the ingest thread publishes what it committed, each open board (an SSE stream
on the web server's event loop) gets its own bounded queue. A slow browser loses live items
(it is told to reload), never slows the ingest."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

QUEUE_SIZE = 1000


class LiveFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[asyncio.Queue[dict[str, Any]], asyncio.AbstractEventLoop] = {}

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers[queue] = asyncio.get_running_loop()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers.pop(queue, None)

    def publish(self, item: dict[str, Any]) -> None:
        """From any thread."""
        with self._lock:
            targets = list(self._subscribers.items())
        for queue, loop in targets:
            loop.call_soon_threadsafe(_offer, queue, item)


def _offer(queue: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):  # a board this slow misses live items
        queue.put_nowait(item)
