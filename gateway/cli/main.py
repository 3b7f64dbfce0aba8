"""Entry point of the `menwei` console script: builds the command tree and dispatches.

Each command group lives beside the code it drives and exposes `register(subparsers)`; a handler is
stored as `func` on its parser and returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Modules that contribute command groups, in the order `menwei --help` lists them.
COMMAND_MODULES = (
    "gateway.cli.config_cmd",
    "gateway.modelhub.cli",
    "gateway.eval.cli",
    "gateway.bench.cli",
    "gateway.bench.access_latency",
    "gateway.bench.login_flood",
    "gateway.bench.call_latency",
    "firmware_bridge.cli",
    "gateway.runtime.cli",
    "gateway.access.people_cli",
    "gateway.station.cli",
    "gateway.ops.cli",
    "gateway.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="menwei", description="menwei face access gateway")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
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
