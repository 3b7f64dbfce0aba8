"""Entry point of the `menwei` console script: builds the command tree and dispatches.

This is the composition root. Each command group lives beside the code it drives and exposes
`register(subparsers)`; a handler is stored as `func` on its parser and returns the process exit
code. The groups that start an adapter beside the core (`run`, `demo`, `bench-login-flood` start
the staff page; `hw` reads the config's [door] table) get it injected here, so gateway never
imports provisioning and firmware_bridge never imports gateway.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import firmware_bridge.cli
import gateway.access.people_cli
import gateway.bench.access_latency
import gateway.bench.call_latency
import gateway.bench.cli
import gateway.bench.login_flood
import gateway.cli.config_cmd
import gateway.demo
import gateway.eval.cli
import gateway.modelhub.cli
import gateway.ops.cli
import gateway.runtime.cli
import gateway.station.cli
import station_console.cli
from firmware_bridge.config import DoorConfig
from gateway.config.staff_page import ProvisioningConfig

if TYPE_CHECKING:
    from gateway.application.app import Application
    from gateway.runtime.adapters import RunningAdapter


def serve_staff_page(
    app: Application, settings: ProvisioningConfig, config_path: Path | None
) -> RunningAdapter | None:
    """The staff page beside a started service (imported late: FastAPI is not needed to parse)."""
    from provisioning.gateway_link import serve_beside

    return serve_beside(app, settings, config_path)


def read_door_section(path: Path | None) -> DoorConfig:
    """The [door] table of a gateway config file, for `menwei hw`."""
    from gateway.config import ConfigError, load_config

    try:
        return load_config(path).door
    except ConfigError as error:
        raise firmware_bridge.cli.DoorConfigUnreadable(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="menwei", description="menwei face access gateway")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # In the order `menwei --help` lists them.
    gateway.cli.config_cmd.register(subparsers)
    gateway.modelhub.cli.register(subparsers)
    gateway.eval.cli.register(subparsers)
    gateway.bench.cli.register(subparsers)
    gateway.bench.access_latency.register(subparsers)
    gateway.bench.login_flood.register(subparsers, staff_page=serve_staff_page)
    gateway.bench.call_latency.register(subparsers)
    firmware_bridge.cli.register(subparsers, read_door_section=read_door_section)
    gateway.runtime.cli.register(subparsers, staff_page=serve_staff_page)
    gateway.access.people_cli.register(subparsers)
    # The station console depends on the station contract, never the reverse: the composition
    # root attaches its subcommands (serve, simulate, add-account, console-bench) under `station`.
    station_console.cli.register(gateway.station.cli.register(subparsers))
    gateway.ops.cli.register(subparsers)
    gateway.demo.register(subparsers, staff_page=serve_staff_page)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    code: int = func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
