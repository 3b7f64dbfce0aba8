"""Write load for `menwei station bench`: other transactions competing with the drain's marks.

Two kinds, because they meet the drain differently. `StaffLaneWriter` writes from this process
through the store's staff lane (a busy staff API: an audit row per transaction), so it queues
for the process's write turn behind the door lane, where the drain writes. `WriterProcess`
writes from another process with plain sqlite3 (a maintenance tool, a second service), so it
meets SQLite's lock and busy timeout directly. Each transaction can hold the lock `hold_s`
longer, standing in for a slow SD card or a heavier transaction.

python -m gateway.station.bench_writers DB_FILE PER_S HOLD_S   (runs until stdin closes)
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from gateway.store.alerts_audit import append_audit
from gateway.store.store import Store


@dataclass(frozen=True)
class WriteLoad:
    """How much competing writing to run while the outbox drains."""

    per_s: float
    hold_s: float = 0.0
    other_process: bool = False


@dataclass(frozen=True)
class WriterResult:
    """What the competing writer achieved while the outbox drained."""

    transactions: int
    per_s: float
    slowest_s: float
    failures: int


class CompetingWriter(Protocol):
    def start(self) -> None: ...

    def stop(self) -> WriterResult: ...


class _Paced:
    """Runs `transaction` `per_s` times a second, timing each, until stopped."""

    def __init__(self, per_s: float, transaction: Callable[[], None]) -> None:
        self.interval = 1.0 / per_s
        self.transaction = transaction
        self.durations: list[float] = []
        self.failures = 0
        self.stopping = threading.Event()
        self.began = time.monotonic()

    def run(self) -> None:
        self.began = next_at = time.monotonic()
        while not self.stopping.is_set():
            begin = time.monotonic()
            try:
                self.transaction()
            except Exception:  # a lock timeout (sqlite3 or SQLAlchemy) is measured, not fatal
                self.failures += 1
            self.durations.append(time.monotonic() - begin)
            next_at += self.interval
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def result(self) -> WriterResult:
        elapsed = max(time.monotonic() - self.began, 1e-9)
        count = len(self.durations)
        return WriterResult(count, count / elapsed, max(self.durations, default=0.0), self.failures)


class StaffLaneWriter:
    """Audit rows through the staff lane of `store`, from a thread of this process."""

    def __init__(self, store: Store, load: WriteLoad) -> None:
        staff = getattr(store, "for_staff_page", None)  # absent before the store had lanes
        self.sessions = staff().sessions if staff is not None else store.sessions
        self.hold_s = load.hold_s
        self._paced = _Paced(load.per_s, self._write)
        self._thread = threading.Thread(target=self._paced.run, name="bench-writer", daemon=True)

    def _write(self) -> None:
        with self.sessions.writing() as session:
            append_audit(
                session,
                actor="bench",
                action="bench_write",
                target="-",
                occurred_at=datetime.now(UTC),
            )
            session.flush()
            time.sleep(self.hold_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> WriterResult:
        self._paced.stopping.set()
        self._thread.join(30)
        return self._paced.result()


class WriterProcess:
    """The same load from another process, through plain sqlite3."""

    def __init__(self, database: Path, load: WriteLoad) -> None:
        self.args = [sys.executable, "-m", __name__, str(database), str(load.per_s)]
        self.args.append(str(load.hold_s))
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "writing":
            raise RuntimeError("the writer process did not start")

    def stop(self) -> WriterResult:
        assert self.process is not None
        stdout, _ = self.process.communicate(timeout=60)
        return WriterResult(**json.loads(stdout.strip().splitlines()[-1]))


def competing_writer(store: Store, database: Path, load: WriteLoad) -> CompetingWriter:
    if load.other_process:
        return WriterProcess(database, load)
    return StaffLaneWriter(store, load)


def main(argv: list[str]) -> int:
    database, per_s, hold_s = argv[0], float(argv[1]), float(argv[2])
    connection = sqlite3.connect(
        database, isolation_level=None, timeout=5.0, check_same_thread=False
    )
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS bench_other_process (at REAL)")

    def write() -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("INSERT INTO bench_other_process VALUES (?)", (time.time(),))
            time.sleep(hold_s)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    paced = _Paced(per_s, write)
    thread = threading.Thread(target=paced.run, daemon=True)
    thread.start()
    print("writing", flush=True)
    sys.stdin.read()
    paced.stopping.set()
    thread.join(30)
    print(json.dumps(vars(paced.result())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
