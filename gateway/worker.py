"""`LoopWorker`: a daemon thread that runs one step of a loop until it is stopped.

The door thread and the vision thread were each written out by hand (thread, stop event, join,
`running`); this is the one copy. `step` gets the stop event so it can wait on it instead of
sleeping (stop() then returns at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class LoopWorker:
    def __init__(self, name: str, step: Callable[[threading.Event], None]) -> None:
        self.name = name
        self._step = step
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self._step(self.stopping)
