"""`menwei hw ...`: installer debug commands for the door hardware.

menwei hw wiegand encode --format 26 --facility 12 --card 3456   -> bit string
menwei hw wiegand decode 10000110000001101100000000             -> fields or why invalid
menwei hw pulse --ms 3000 [--config FILE | --backend sim|gpiod|mcu] [--port DEV]
menwei hw watch [--seconds N] [same backend options]
menwei hw effective [--config FILE]                               -> how this door behaves

The bridge does not read the gateway's config file itself: the composition root passes a reader
of its [door] table (`DoorSectionReader`), so firmware_bridge never imports gateway.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_bridge.config import DoorConfig
from firmware_bridge.io import DoorIO, HardwareError
from firmware_bridge.wiegand import WiegandError, decode, describe, encode_card, encode_key


class DoorConfigUnreadable(Exception):
    """The config file's [door] table could not be read or did not validate."""


# Reads the [door] table of a gateway config file (None: the defaults).
DoorSectionReader = Callable[[Path | None], DoorConfig]


def _default_door_section(path: Path | None) -> DoorConfig:
    if path is not None:
        raise DoorConfigUnreadable(f"{path}: no config reader wired for `menwei hw`")
    return DoorConfig()


def register(subparsers: Any, read_door_section: DoorSectionReader = _default_door_section) -> None:
    group = subparsers.add_parser("hw", help="door hardware: Wiegand codec, relay and input tests")
    group.set_defaults(read_door_section=read_door_section)
    commands = group.add_subparsers(dest="hw_command", metavar="ACTION", required=True)

    wiegand = commands.add_parser("wiegand", help="encode or decode Wiegand frames")
    codec = wiegand.add_subparsers(dest="wiegand_command", metavar="ACTION", required=True)
    encode = codec.add_parser("encode", help="print the bit string of a card or keypad key")
    encode.add_argument("--format", type=int, choices=(26, 34, 37), default=26)
    encode.add_argument("--facility", type=int, help="facility code")
    encode.add_argument("--card", type=int, help="card number")
    encode.add_argument("--key", help="keypad key 0-9, * or # (instead of a card)")
    encode.add_argument("--key-bits", type=int, choices=(4, 8), default=4)
    encode.set_defaults(func=_encode)
    decode_cmd = codec.add_parser("decode", help="print the fields of a bit string, or why not")
    decode_cmd.add_argument("bits")
    decode_cmd.set_defaults(func=_decode)

    pulse = commands.add_parser("pulse", help="release the lock once, to test relay wiring")
    pulse.add_argument("--ms", type=int, default=3000, help="release time (capped by config)")
    _backend_options(pulse)
    pulse.set_defaults(func=_pulse)
    watch = commands.add_parser("watch", help="print door events (inputs, Wiegand, link)")
    watch.add_argument("--seconds", type=float, default=0.0, help="stop after N s (0: Ctrl-C)")
    _backend_options(watch)
    watch.set_defaults(func=_watch)
    effective = commands.add_parser("effective", help="print the effective door behaviour")
    _backend_options(effective)
    effective.set_defaults(func=_effective)


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="gateway TOML config (its [door] table)")
    parser.add_argument("--backend", choices=("sim", "gpiod", "mcu"), help="override backend")
    parser.add_argument("--port", help="override the MCU serial port")


def _encode(args: argparse.Namespace) -> int:
    try:
        if args.key is not None:
            print(encode_key(args.key, args.key_bits))
        elif args.facility is None or args.card is None:
            print("error: give --facility and --card, or --key")
            return 2
        else:
            print(encode_card(args.format, args.facility, args.card))
    except WiegandError as error:
        print(f"error: {error}")
        return 2
    return 0


def _decode(args: argparse.Namespace) -> int:
    try:
        read = decode(args.bits.strip())
    except WiegandError as error:
        print(f"invalid {len(args.bits.strip())}-bit frame: {error}")
        return 1
    print(describe(read))
    return 0


def door_config(args: argparse.Namespace) -> DoorConfig:
    """The [door] table from --config (defaults without it), with command-line overrides."""
    door: DoorConfig = args.read_door_section(args.config)
    if args.backend:
        door = DoorConfig.model_validate({**door.model_dump(), "backend": args.backend})
    if args.port:
        door = DoorConfig.model_validate(
            {**door.model_dump(), "mcu": {**door.mcu.model_dump(), "port": args.port}}
        )
    return door


def _run(args: argparse.Namespace, body: Any) -> int:
    from firmware_bridge.backends import create_door_io
    from firmware_bridge.lock import effective_config
    from firmware_bridge.safety import door_session

    try:
        config = door_config(args)
    except DoorConfigUnreadable as error:
        print(error)
        return 2
    print(effective_config(config), flush=True)
    logging.getLogger("firmware_bridge.safety").setLevel(logging.WARNING)  # printed above
    try:
        with door_session(create_door_io(config), config) as io:
            body(io, config)
    except HardwareError as error:
        print(f"hardware error: {error}")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _pulse(args: argparse.Namespace) -> int:
    def body(io: DoorIO, config: DoorConfig) -> None:
        started = time.monotonic()
        io.release(args.ms)
        print(f"released for {min(args.ms, config.max_unlock_ms)} ms")
        energised = io.inputs().relay_energised
        print(f"  {0:6.0f} ms relay {'ON' if energised else 'off'}")
        deadline = started + min(args.ms, config.max_unlock_ms) / 1000 + 1.0
        while time.monotonic() < deadline:
            for event in io.read_events(0.02):
                print(f"  event {event}")
            now_energised = io.inputs().relay_energised
            if now_energised != energised:
                energised = now_energised
                elapsed = (time.monotonic() - started) * 1000
                print(f"  {elapsed:6.0f} ms relay {'ON' if energised else 'off'}")
        print(f"counters: {dict(io.counters())}")

    return _run(args, body)


def _watch(args: argparse.Namespace) -> int:
    def body(io: DoorIO, config: DoorConfig) -> None:
        stop_at = time.monotonic() + args.seconds if args.seconds else None
        print("watching door events (Ctrl-C to stop)")
        while stop_at is None or time.monotonic() < stop_at:
            for event in io.read_events(0.1):
                print(f"{time.strftime('%H:%M:%S')} {event}")
        print(f"counters: {dict(io.counters())}")

    return _run(args, body)


def _effective(args: argparse.Namespace) -> int:
    from firmware_bridge.lock import effective_config

    try:
        print(effective_config(door_config(args)))
    except DoorConfigUnreadable as error:
        print(error)
        return 2
    return 0
