"""A gateway process for the command kill -9 tests: a StationLink over a real SQLite store whose
remote-open callback "opens" by appending the command id to a journal file (one os.write with
O_APPEND, so a line written before a SIGKILL survives it), like a door releasing once per open.

python -m tests.station.command_proc STORE_DIR PORT CA_FILE FOLDER STATION_PUBLIC_KEY
Prints "started", then "connected" once the command subscription is in place.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from gateway.application.remote_open import OpenOutcome, RemoteOpen
from gateway.config.station import StationConfig
from gateway.station.commands import StationCallbacks
from gateway.station.link import StationLink
from tests.station.broker import GATEWAY, PREFIX, SITE
from tests.station.conftest import MODEL_ID, make_store

JOURNAL = "opened.log"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("gateway.station.link").setLevel(logging.DEBUG)
    store_dir, port, ca, folder, public_key = sys.argv[1:6]
    store, door_id = make_store(Path(store_dir))
    journal = os.open(Path(folder) / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def on_remote_open(request: RemoteOpen) -> OpenOutcome:
        os.write(journal, f"{request.command_id}\n".encode())
        logging.getLogger(__name__).info("opened %s", request.command_id)
        return OpenOutcome(True, "remote_open")

    config = StationConfig(
        enabled=True,
        host="127.0.0.1",
        port=int(port),
        topic_prefix=PREFIX,
        ca_file=Path(ca),
        username="gw-1",
        password_file=Path(folder) / "gw-1.password",
        station_public_key=public_key,
        nonce_db=Path(folder) / "nonces.db",
        max_command_lifetime_s=600,
        reconnect_min_s=0.2,
        reconnect_max_s=1.0,
    )
    link = StationLink(
        config,
        store,
        site_id=SITE,
        gateway_id=GATEWAY,
        door_id=door_id,
        model_id=MODEL_ID,
        callbacks=StationCallbacks(on_remote_open=on_remote_open),
    )
    link.start()
    print("started", flush=True)
    if link.wait_connected(60):
        print("connected", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
