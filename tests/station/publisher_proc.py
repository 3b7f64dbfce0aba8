"""A gateway process for the kill -9 test: a StationLink over a real SQLite store, optionally
writing events continuously (small transactions, like the door does) while it publishes.

python -m tests.station.publisher_proc STORE_DIR PORT CA_FILE PASSWORD_DIR WRITE_EVENTS(0/1)
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from gateway.config.station import StationConfig
from gateway.station.link import StationLink
from tests.station.broker import GATEWAY, PREFIX, SITE
from tests.station.conftest import MODEL_ID, make_store
from tests.station.events import bulk_access_events


def main() -> int:
    store_dir, port, ca, folder, write = sys.argv[1:6]
    store, door_id = make_store(Path(store_dir))
    config = StationConfig(
        enabled=True,
        host="127.0.0.1",
        port=int(port),
        topic_prefix=PREFIX,
        ca_file=Path(ca),
        username="gw-1",
        password_file=Path(folder) / "gw-1.password",
        nonce_db=Path(folder) / "nonces.db",
        reconnect_min_s=0.2,
        reconnect_max_s=2.0,
    )
    link = StationLink(
        config, store, site_id=SITE, gateway_id=GATEWAY, door_id=door_id, model_id=MODEL_ID
    )
    link.start()
    print("started", flush=True)
    if write == "1":

        def writer() -> None:
            while True:
                bulk_access_events(store, 10)
                link.notify()
                time.sleep(0.002)

        threading.Thread(target=writer, daemon=True).start()
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
