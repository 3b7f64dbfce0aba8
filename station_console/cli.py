"""`menwei station serve | simulate | add-account | console-bench`: the station console's commands,
attached under `menwei station` by gateway/station/cli.py."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.station.keys import load_public_key
from gateway.station.mqtt_client import BrokerAccess, read_password
from station_console.config import load_config


def _serve(args: argparse.Namespace) -> int:
    from station_console.service import StationService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    service = StationService.build(load_config(args.config))
    service.start()
    web = service.config.web
    print(f"station console on http{'s' if web.tls_cert else ''}://{web.host}:{service.web_port}/")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    return 0


def _add_account(args: argparse.Namespace) -> int:
    from station_console.db import open_database
    from station_console.web.auth import add_account

    password = read_password(args.password_file) if args.password_file else getpass.getpass()
    database = open_database(load_config(args.config).database.url)
    try:
        with database.session() as session:
            add_account(session, args.username, password or "", args.role, datetime.now(UTC))
    finally:
        database.close()
    print(f"account {args.username} ({args.role}) added")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from station_console.simulate import Simulation, SimulationPlan

    password = read_password(args.password_file)

    def access(gateway: str) -> BrokerAccess:
        return BrokerAccess(
            args.host, args.port, ca_file=args.ca, username=gateway, password=password
        )

    plan = SimulationPlan(
        gateways=args.gateways,
        rate=args.rate,
        telemetry_interval_s=args.telemetry_interval_s,
        burst_every_s=args.burst_every_s,
        burst_gateways=args.burst_gateways,
        burst_size=args.burst_size,
        call_rate=args.call_rate,
        call_ring_s=args.call_ring_s,
        site=args.site,
        prefix=args.prefix,
    )
    key = load_public_key(args.station_public_key) if args.station_public_key else None
    simulation = Simulation(plan, access, key)
    simulation.start()
    print(f"simulating {args.gateways} gateways at {args.rate}/s each (Ctrl-C stops)")
    try:
        end = None if args.seconds is None else time.monotonic() + args.seconds
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        simulation.stop()
    print(f"sent {sum(simulation.totals().values())} messages")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from station_console.bench import BenchPlan, run_console_bench

    plan = BenchPlan(
        gateways=args.gateways,
        rate=args.rate,
        seconds=args.seconds,
        burst_every_s=args.burst_every_s,
        database_url=args.database_url,
        browser=not args.no_browser,
    )
    report = run_console_bench(plan)
    for line in report.lines():
        print(line)
    if args.samples is not None:
        rows = "".join(f"{at:.2f}\t{ms:.0f}\n" for at, ms in sorted(report.samples))
        args.samples.write_text("seconds_after_start\talert_to_board_ms\n" + rows)
    return 0 if report.lost == 0 and report.duplicated == 0 else 1


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="the station console: ingest + web + commands")
    serve.add_argument("--config", type=Path, required=True, help="station.toml")
    serve.set_defaults(func=_serve)

    account = commands.add_parser("add-account", help="add a station console account")
    account.add_argument("--config", type=Path, required=True)
    account.add_argument("--username", required=True)
    account.add_argument("--role", choices=("viewer", "operator", "admin"), default="operator")
    account.add_argument("--password-file", type=Path)
    account.set_defaults(func=_add_account)

    sim = commands.add_parser("simulate", help="simulated gateways speaking the MQTT contract")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8883)
    sim.add_argument("--ca", type=Path)
    sim.add_argument("--password-file", type=Path, help="every simulated gateway's password")
    sim.add_argument("--prefix", default="menwei/v1")
    sim.add_argument("--site", default="site-a")
    sim.add_argument("--gateways", type=int, default=10)
    sim.add_argument("--rate", type=float, default=0.05, help="access events/s per gateway")
    sim.add_argument("--telemetry-interval-s", type=float, default=10.0)
    sim.add_argument("--burst-every-s", type=float, default=0.0)
    sim.add_argument("--burst-gateways", type=int, default=5)
    sim.add_argument("--burst-size", type=int, default=3)
    sim.add_argument("--call-rate", type=float, default=0.0, help="visitor calls/s per gateway")
    sim.add_argument("--call-ring-s", type=float, default=45.0, help="unanswered: missed after")
    sim.add_argument("--station-public-key", help="base64 (from keygen): verify commands")
    sim.add_argument("--seconds", type=float)
    sim.set_defaults(func=_simulate)

    bench = commands.add_parser(
        "console-bench",
        help="load the console: N gateways, bursts, "
        "a broker restart; lost/duplicated, p95 alert->board",
    )
    bench.add_argument("--gateways", type=int, default=1000)
    bench.add_argument("--rate", type=float, default=0.05)
    bench.add_argument("--seconds", type=float, default=60.0)
    bench.add_argument("--burst-every-s", type=float, default=5.0)
    bench.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    bench.add_argument("--no-browser", action="store_true")
    bench.add_argument("--samples", type=Path, help="write each alert's latency (TSV)")
    bench.set_defaults(func=_bench)
