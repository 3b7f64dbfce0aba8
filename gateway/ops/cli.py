"""`menwei doctor [--config FILE] [--json]`: the installer's and the technician's health check.

Exit codes: 0 when no check failed (warnings and unknowns allowed), 1 when any failed, 2 for a
configuration that does not load.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, load_config
from gateway.ops.doctor import DEFAULT_CREDSTORE, failed, render_json, render_text, run_doctor

CHECK_NAMES = (
    "camera",
    "models",
    "door",
    "clock",
    "disk",
    "database",
    "store key",
    "broker",
    "broker config",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check camera, models, door I/O, broker, clock, disk and database"
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="gateway config (TOML)")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    parser.add_argument(
        "--start-door",
        action="store_true",
        help="also open the door backend and put it in its safe state (stop menwei first)",
    )
    parser.add_argument(
        "--full-integrity",
        action="store_true",
        help="PRAGMA integrity_check instead of the faster quick_check",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=CHECK_NAMES, help="leave a check out"
    )
    parser.add_argument(
        "--credstore",
        type=Path,
        default=DEFAULT_CREDSTORE,
        help="where [store] key_credential is looked up outside systemd",
    )
    parser.add_argument(
        "--broker-config",
        type=Path,
        metavar="FILE",
        help="the station broker's mosquitto.conf, on the broker's host (persistence, queue "
        "limits: docs/mosquitto-station.conf)",
    )
    parser.set_defaults(func=doctor)


def doctor(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error)
        return 2
    results = run_doctor(
        config,
        start_door=args.start_door,
        full_integrity=args.full_integrity,
        skip=args.skip,
        credstore=args.credstore,
        broker_config=args.broker_config,
    )
    print(render_json(results) if args.json else render_text(results))
    return 1 if failed(results) else 0
