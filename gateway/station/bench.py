"""`menwei station bench`: how fast the outbox drains to a local broker with QoS 1 over TLS.

Fills a fresh SQLite store with N pending access events (default 100,000: the back-pressure
bound), starts a throw-away mosquitto (TLS, password, ACL) and a StationLink, and times until
every row is PUBACKed and marked delivered. Optionally a station subscriber receives everything,
and other write transactions (`WriteLoad`, see gateway.station.bench_writers) compete for the
store's write lock while it drains; their rate achieved and their slowest commit are reported
beside the drain rate (issue 12 item 9).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.config.station import StationConfig
from gateway.config.store import StoreConfig
from gateway.station.bench_writers import WriteLoad, WriterResult, competing_writer
from gateway.station.link import StationLink
from gateway.station.local_broker import LocalBroker
from gateway.station.mqtt_client import BrokerAccess
from gateway.station.station_client import StationClient
from gateway.store.crypto import generate_key_file
from gateway.store.events import enqueue_many
from gateway.store.places import add_building, add_door, add_site
from gateway.store.store import Store, open_store
from gateway.store.uuid7 import uuid7

SITE, GATEWAY, PREFIX = "bench-site", "gw-bench", "menwei/v1"
USERS = {GATEWAY: "bench-gw", "station": "bench-station"}
ACL = (
    f"user {GATEWAY}\ntopic readwrite {PREFIX}/{SITE}/{GATEWAY}/#\n\n"
    f"user station\ntopic readwrite {PREFIX}/#\n"
)
CHUNK = 10_000


@dataclass(frozen=True)
class BenchResult:
    events: int
    fill_s: float
    drain_s: float
    received: int | None
    writers: WriterResult | None = None

    @property
    def events_per_s(self) -> float:
        return self.events / self.drain_s if self.drain_s > 0 else float("inf")


def _payload(index: int, at: datetime) -> dict[str, object]:
    occurred = at + timedelta(milliseconds=index)
    return {
        "event_id": str(uuid7(int(occurred.timestamp() * 1000))),
        "occurred_at": occurred.isoformat(),
        "door": "main",
        "method": "card",
        "verdict": "grant",
        "reason": "ok",
        "person": None,
        "score": None,
    }


def _fill(folder: Path, events: int) -> tuple[Store, int, float]:
    key = folder / "template.key"
    generate_key_file(key)
    store = open_store(
        StoreConfig(
            url=f"sqlite:///{folder / 'bench.db'}", key_file=key, backup_dir=folder / "backups"
        )
    )
    begin = time.monotonic()
    at = datetime.now(UTC)
    with store.sessions.writing() as session:
        site = add_site(
            session,
            code=SITE,
            name="bench",
            province="-",
            city="-",
            district="-",
            street="-",
            community="-",
        )
        door_id = add_door(
            session, add_building(session, site.id, "1").id, "main", GATEWAY, "Main"
        ).id
    for start in range(0, events, CHUNK):
        with store.sessions.writing() as session:
            payloads = (_payload(i, at) for i in range(start, min(events, start + CHUNK)))
            enqueue_many(session, GATEWAY, "access_event", payloads, at)
    return store, door_id, time.monotonic() - begin


def run_bench(
    events: int, window: int = 100, subscribe: bool = False, load: WriteLoad | None = None
) -> BenchResult:
    writers: WriterResult | None = None
    with tempfile.TemporaryDirectory(prefix="menwei-bench-") as tmp:
        folder = Path(tmp)
        store, door_id, fill_s = _fill(folder, events)
        broker = LocalBroker(folder / "broker", USERS, ACL)
        broker.start()
        station: StationClient | None = None
        try:
            if subscribe:
                access = BrokerAccess(
                    "127.0.0.1",
                    broker.port,
                    ca_file=broker.ca,
                    username="station",
                    password=USERS["station"],
                )
                station = StationClient(access, "bench-station", PREFIX, clean_start=True)
                station.start()
            (folder / "gw.password").write_text(USERS[GATEWAY])
            config = StationConfig(
                enabled=True,
                host="127.0.0.1",
                port=broker.port,
                topic_prefix=PREFIX,
                ca_file=broker.ca,
                username=GATEWAY,
                password_file=folder / "gw.password",
                nonce_db=folder / "nonces.db",
                inflight_window=window,
                max_pending=max(events, 1000),
            )
            link = StationLink(
                config, store, site_id=SITE, gateway_id=GATEWAY, door_id=door_id, model_id="bench"
            )
            writer = None if load is None else competing_writer(store, folder / "bench.db", load)
            begin = time.monotonic()
            link.start()
            try:
                if writer is not None:
                    writer.start()
                while link.drain.delivered_up_to < events:
                    time.sleep(0.01)
                drain_s = time.monotonic() - begin
            finally:
                if writer is not None:
                    writers = writer.stop()
                link.stop()
            received = None
            if station is not None:  # everything the gateway sent reaches the station too
                deadline = time.monotonic() + 120
                while station.received.qsize() < events and time.monotonic() < deadline:
                    time.sleep(0.05)
                received = station.received.qsize()
        finally:
            if station is not None:
                station.stop()
            broker.stop()
            store.close()
    return BenchResult(events, fill_s, drain_s, received, writers)
