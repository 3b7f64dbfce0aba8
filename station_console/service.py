"""`menwei station serve`: the ingest, the console web server, the gateway watchdog and the
retention sweep, wired together in one process.

The watchdog recomputes who is online once a second and tells open boards when a gateway goes
offline (telemetry silent for its interval, or availability `offline`) or comes back, and closes
visitor calls whose end never arrived (dropping their snapshots). Retention runs hourly.
Replays are sent by the ingest through the same signed-command path as the operators'
commands, issued as `station`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import uvicorn

from provisioning.serve import RunningServer
from station_console.calls import call_dict, end_stale_calls
from station_console.command_sender import CommandSender
from station_console.config import ConsoleConfig
from station_console.db import Database, open_database
from station_console.health import all_health
from station_console.ingest import Ingest
from station_console.live import LiveFeed
from station_console.retention import purge
from station_console.sequence import ReplayRequest, SequenceBook
from station_console.web.app import create_app
from station_console.web.deps import ConsoleDeps

LOG = logging.getLogger(__name__)
RETENTION_EVERY_S = 3600.0


def start_web(deps: ConsoleDeps, timeout: float = 15.0) -> RunningServer:
    web = deps.config.web
    tls = web.tls_cert is not None and web.tls_key is not None
    config = uvicorn.Config(
        create_app(deps),
        host=web.host,
        port=web.port,
        ssl_certfile=str(web.tls_cert) if tls else None,
        ssl_keyfile=str(web.tls_key) if tls else None,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="station-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"console did not start on {web.host}:{web.port}")
        time.sleep(0.05)
    return RunningServer(server, thread)


class Watchdog:
    """Online/offline changes and stale calls -> the live feed; hourly retention."""

    def __init__(self, config: ConsoleConfig, database: Database, feed: LiveFeed) -> None:
        self.config = config
        self.database = database
        self.feed = feed
        self.online: dict[tuple[str, str], bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def check(self) -> None:
        max_ring = timedelta(seconds=self.config.calls.snapshot_max_s)
        with self.database.session() as session:
            health = all_health(session, datetime.now(UTC), self.config.gateways)
            stale = [
                call_dict(row) for row in end_stale_calls(session, datetime.now(UTC), max_ring)
            ]
        for call in stale:
            self.feed.publish({**call, "event": "call"})
        for item in health:
            key = (item.site, item.gateway)
            if self.online.get(key) != item.online:
                if key in self.online or not item.online:
                    self.feed.publish({**item.as_dict(), "event": "gateway"})
                self.online[key] = item.online

    def _run(self) -> None:
        last_purge = 0.0
        while not self._stop.wait(1.0):
            try:
                self.check()
                if time.monotonic() - last_purge > RETENTION_EVERY_S:
                    last_purge = time.monotonic()
                    with self.database.session() as session:
                        LOG.info(
                            "retention: %s",
                            purge(session, self.config.retention, datetime.now(UTC)),
                        )
            except Exception:
                LOG.exception("watchdog pass failed")


@dataclass
class StationService:
    config: ConsoleConfig
    database: Database
    feed: LiveFeed
    ingest: Ingest
    sender: CommandSender | None
    watchdog: Watchdog
    web: RunningServer | None = None

    @classmethod
    def build(cls, config: ConsoleConfig) -> StationService:
        database = open_database(config.database.url)
        feed = LiveFeed()
        book = SequenceBook(config.replay)
        holder: list[CommandSender] = []

        def send_replay(request: ReplayRequest) -> None:
            args = {"since_seq": request.since, "until_seq": request.until}
            holder[0].send(
                site=request.site,
                gateway=request.gateway,
                name="replay",
                args=args,
                issued_by="station",
            )

        ingest = Ingest(
            config.broker, database, book, feed, send_replay if config.signing.key_file else None
        )
        sender = None
        if config.signing.key_file is not None:
            sender = CommandSender.from_file(
                config.signing.key_file,
                config.broker.topic_prefix,
                ingest.publish,
                database,
                config.signing.command_lifetime_s,
            )
            holder.append(sender)
        return cls(config, database, feed, ingest, sender, Watchdog(config, database, feed))

    def start(self, web: bool = True) -> None:
        self.ingest.start()
        self.watchdog.start()
        if web:
            deps = ConsoleDeps.build(self.config, self.database, self.feed, self.sender)
            self.web = start_web(deps)

    @property
    def web_port(self) -> int:
        assert self.web is not None
        return self.web.port

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
        self.watchdog.stop()
        self.ingest.stop()
        self.database.close()
