"""`menwei config check FILE` and `menwei config show`: validate, print the effective config."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, load_config


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("config", help="validate and show configuration")
    commands = group.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = commands.add_parser("check", help="validate a TOML config; print each error by key")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check)
    show = commands.add_parser("show", help="print the effective config (defaults + file + env)")
    show.add_argument("file", type=Path, nargs="?")
    show.set_defaults(func=_show)


def _check(args: argparse.Namespace) -> int:
    try:
        load_config(args.file)
    except ConfigError as error:
        for issue in error.issues:
            print(f"{args.file}: {issue}")
        print(f"{len(error.issues)} error(s)")
        return 1
    print(f"{args.file}: OK")
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as error:
        print(error)
        return 1
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    return 0
