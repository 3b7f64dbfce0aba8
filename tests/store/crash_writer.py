"""A writer process for the kill -9 test: records access events (each with its outbox row) in a
loop, one transaction each, and prints every event id after its commit returned.

Usage: python -m tests.store.crash_writer <sqlite-url> <key-file> <door-id>
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.config.store import StoreConfig
from gateway.store.base import Method, Verdict
from gateway.store.events import record_access_event
from gateway.store.store import open_store


def main(url: str, key_file: str, door_id: int) -> None:
    store = open_store(StoreConfig(url=url, key_file=Path(key_file), backup_dir=Path("/tmp")))
    while True:
        with store.sessions.writing() as session:
            event, _message = record_access_event(
                session,
                gateway_id="gw-1",
                door_id=door_id,
                method=Method.CARD,
                verdict=Verdict.GRANT,
                reason_code="ok",
                occurred_at=datetime.now(UTC),
            )
            event_id = str(event.id)
        print(event_id, flush=True)  # only after the commit returned


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
