"""`menwei station ...`: the station-side tools an operator or integrator runs against the broker.

keygen (Ed25519 station key), tail (pretty-print events and alerts, save snapshots, report gaps),
calls (tail visitor calls, saving each caller's snapshot), open, answer (a visitor call),
issue-code, push-watchlist, push-people, replay (all signed with the station key, each waits for
and prints the gateway's result), and bench (outbox drain throughput).
"""

from __future__ import annotations

import argparse
import base64
import json
import queue
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.access.requester import parse_requester
from gateway.station.keys import load_private_key, public_key_b64, save_private_key
from gateway.station.mqtt_client import BrokerAccess, read_password
from gateway.station.station_client import Received, SequenceTracker, StationClient


def _connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8883)
    parser.add_argument("--ca", type=Path, help="CA that signed the broker certificate")
    parser.add_argument("--cert", type=Path, help="client certificate (mutual TLS)")
    parser.add_argument("--client-key", type=Path, help="client certificate key")
    parser.add_argument("--username")
    parser.add_argument("--password-file", type=Path)
    parser.add_argument("--prefix", default="menwei/v1")
    parser.add_argument("--client-id", default="menwei-station-tool")


def _target_args(parser: argparse.ArgumentParser) -> None:
    _connection_args(parser)
    parser.add_argument("--site", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--key", type=Path, required=True, help="station private key (PEM)")
    parser.add_argument(
        "--by",
        default="station",
        help="who issues the command: station, station:<operator> or resident:<external id> "
        "(a resident's open is checked against their own access rights)",
    )
    parser.add_argument("--lifetime-s", type=int, default=60)
    parser.add_argument("--timeout-s", type=float, default=30.0, help="wait for the result")


def _client(args: argparse.Namespace, clean_start: bool = True) -> StationClient:
    access = BrokerAccess(
        args.host,
        args.port,
        ca_file=args.ca,
        cert_file=args.cert,
        key_file=args.client_key,
        username=args.username,
        password=read_password(args.password_file),
    )
    client = StationClient(access, args.client_id, args.prefix, clean_start=clean_start)
    client.start()
    return client


def _send(args: argparse.Namespace, name: str, command_args: dict[str, Any]) -> int:
    if parse_requester(args.by) is None:
        hint = "use station, station:<operator> or resident:<external id>"
        print(f"--by {args.by!r}: {hint}", file=sys.stderr)
        return 2
    key = load_private_key(args.key)
    client = _client(args)
    try:
        envelope = client.send_command(
            key,
            site=args.site,
            gateway=args.gateway,
            name=name,
            args=command_args,
            issued_by=args.by,
            lifetime=timedelta(seconds=args.lifetime_s),
        )
        command_id = envelope["command"]["id"]
        print(f"sent {name} {command_id}")
        deadline = time.monotonic() + args.timeout_s
        while time.monotonic() < deadline:
            try:
                message = client.received.get(timeout=0.5)
            except queue.Empty:
                continue
            if "/cmd_result/" not in message.topic:
                continue
            body = message.json()["body"]
            if body.get("command_id") == command_id:
                print(json.dumps(body, indent=2, ensure_ascii=False))
                return 0 if body["ok"] else 1
        print("no result before the timeout (the gateway may be offline)", file=sys.stderr)
        return 3
    finally:
        client.stop()


def _keygen(args: argparse.Namespace) -> int:
    key = Ed25519PrivateKey.generate()
    save_private_key(key, args.out)
    print(f"private key: {args.out} (keep it on the station only)")
    print(f'station_public_key = "{public_key_b64(key)}"   # put this in [station]')
    return 0


def _describe(message: Received, tracker: SequenceTracker, snapshots: Path | None) -> str:
    if message.topic.endswith("/availability"):
        return f"{message.topic}: {message.payload.decode(errors='replace')}"
    payload = message.json()
    if "/events/" not in message.topic and "/cmd_result/" not in message.topic:
        return f"{message.topic}: {json.dumps(payload, ensure_ascii=False)[:200]}"
    new = tracker.add(payload)
    body = dict(payload["body"])
    snapshot = body.pop("snapshot", None)
    if snapshots is not None and snapshot and snapshot.get("data"):
        snapshots.mkdir(parents=True, exist_ok=True)
        path = snapshots / f"{payload['gateway']}-{payload['seq']}.jpg"
        path.write_bytes(base64.b64decode(snapshot["data"]))
        body["snapshot_file"] = str(path)
    mark = "" if new else " (duplicate)"
    where = f"{payload['site']}/{payload['gateway']} #{payload['seq']}"
    return f"{where} {payload['type']}{mark}: {json.dumps(body, ensure_ascii=False)}"


def _tail(args: argparse.Namespace) -> int:
    client = _client(args, clean_start=False)
    tracker = SequenceTracker()
    seen_gaps: dict[str, int] = {}
    events = 0
    try:
        end = None if args.seconds is None else time.monotonic() + args.seconds
        while (end is None or time.monotonic() < end) and (
            args.max_events is None or events < args.max_events
        ):
            try:
                message = client.received.get(timeout=0.5)
            except queue.Empty:
                continue
            print(_describe(message, tracker, args.snapshots), flush=True)
            events += "/events/" in message.topic
            for gateway, gaps in tracker.missing.items():
                if gaps and len(gaps) != seen_gaps.get(gateway):
                    seen_gaps[gateway] = len(gaps)
                    print(
                        f"GAP {gateway}: missing {min(gaps)}..{max(gaps)} ({len(gaps)} seqs); "
                        "use `menwei station replay`",
                        flush=True,
                    )
    except KeyboardInterrupt:
        pass
    finally:
        client.stop()
    return 0


def _open(args: argparse.Namespace) -> int:
    return _send(args, "open", {})


def _describe_call(message: Received, snapshots: Path | None) -> str | None:
    if not message.topic.endswith("/events/visitor_call"):
        return None
    payload = message.json()
    body = payload["body"]
    snapshot = body.get("snapshot") or {}
    saved = ""
    if snapshots is not None and snapshot.get("data") and body.get("call_id"):
        snapshots.mkdir(parents=True, exist_ok=True)
        path = snapshots / f"{body['call_id']}.jpg"
        path.write_bytes(base64.b64decode(snapshot["data"]))
        saved = f" snapshot={path}"
    unit = body.get("unit") or {}
    where = "/".join(unit.get(k, "?") for k in ("building", "unit_number", "room_number"))
    by = f" by={body['answered_by']}" if body.get("answered_by") else ""
    return (
        f"{body['occurred_at']} {payload['gateway']} door={body['door']} unit={where or '-'} "
        f"call={body['call_id']} {body['outcome']} ({body['reason']}){by}{saved}"
    )


def _calls(args: argparse.Namespace) -> int:
    client = _client(args, clean_start=False)
    shown = 0
    try:
        end = None if args.seconds is None else time.monotonic() + args.seconds
        while (end is None or time.monotonic() < end) and (
            args.max_events is None or shown < args.max_events
        ):
            try:
                message = client.received.get(timeout=0.5)
            except queue.Empty:
                continue
            line = _describe_call(message, args.snapshots)
            if line is not None:
                print(line, flush=True)
                shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        client.stop()
    return 0


def _answer(args: argparse.Namespace) -> int:
    command_args: dict[str, Any] = {
        "call_id": args.call_id,
        "answer": "accept" if args.accept else "decline",
    }
    if args.door is not None:
        command_args["door"] = args.door
    return _send(args, "answer_call", command_args)


def _issue_code(args: argparse.Namespace) -> int:
    building, unit, room = args.unit.split("/")
    code = args.code or f"{secrets.randbelow(10**args.digits):0{args.digits}d}"
    print(f"visitor code: {code}   (give it to the visitor; the gateway keeps only its hash)")
    command_args: dict[str, Any] = {
        "code": code,
        "unit": {"building": building, "unit_number": unit, "room_number": room},
        "valid_until": (datetime.now(UTC) + timedelta(hours=args.valid_hours)).isoformat(),
        "max_uses": args.max_uses,
    }
    return _send(args, "issue_code", command_args)


def _push(name: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        return _send(args, name, json.loads(Path(args.file).read_text(encoding="utf-8")))

    return handler


def _replay(args: argparse.Namespace) -> int:
    command_args: dict[str, Any] = {"since_seq": args.since}
    if args.until is not None:
        command_args["until_seq"] = args.until
    return _send(args, "replay", command_args)


def _bench(args: argparse.Namespace) -> int:
    from gateway.station.bench import run_bench
    from gateway.station.bench_writers import WriteLoad

    load = None
    if args.writes_per_s > 0:
        load = WriteLoad(args.writes_per_s, args.write_hold_ms / 1000, args.writer_process)
    result = run_bench(args.events, args.window, args.subscribe, load)
    print(f"filled {result.events} pending events in {result.fill_s:.1f} s")
    print(
        f"drained {result.events} events in {result.drain_s:.1f} s: "
        f"{result.events_per_s:.0f} events/s (QoS 1, TLS, PUBACK before marking delivered)"
    )
    if result.writers is not None:
        writers = result.writers
        print(
            f"meanwhile {writers.transactions} other write transactions ({writers.per_s:.0f}/s), "
            f"slowest {writers.slowest_s * 1000:.0f} ms, {writers.failures} failed"
        )
    if result.received is not None:
        print(f"station subscriber received {result.received} messages")
    return 0 if result.events_per_s >= args.target else 1


def register(subparsers: Any) -> Any:  # returns the `station` subcommands, for the console
    station = subparsers.add_parser("station", help="station-side MQTT tools and benchmark")
    commands = station.add_subparsers(dest="station_command", metavar="SUBCOMMAND", required=True)

    keygen = commands.add_parser("keygen", help="make the station's Ed25519 signing key")
    keygen.add_argument("--out", type=Path, required=True)
    keygen.set_defaults(func=_keygen)

    tail = commands.add_parser("tail", help="print events and alerts, save alert snapshots")
    _connection_args(tail)
    tail.add_argument("--snapshots", type=Path, help="folder for alert snapshot JPEGs")
    tail.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    tail.add_argument("--max-events", type=int, help="stop after this many events")
    tail.set_defaults(func=_tail)

    calls = commands.add_parser("calls", help="print visitor calls, save callers' snapshots")
    _connection_args(calls)
    calls.add_argument("--snapshots", type=Path, help="folder for CALL_ID.jpg snapshots")
    calls.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    calls.add_argument("--max-events", type=int, help="stop after this many call events")
    calls.set_defaults(func=_calls)

    answer = commands.add_parser("answer", help="answer a visitor call (accept opens once)")
    _target_args(answer)
    answer.add_argument("call_id", metavar="CALL_ID", help="call_id of the visitor_call event")
    choice = answer.add_mutually_exclusive_group(required=True)
    choice.add_argument("--accept", action="store_true", help="open the door for the caller")
    choice.add_argument("--decline", action="store_true")
    answer.add_argument("--door", help="the call's door code (refused if it is not)")
    answer.set_defaults(func=_answer)

    open_ = commands.add_parser("open", help="signed remote open of a gateway's door")
    _target_args(open_)
    open_.set_defaults(func=_open)

    issue = commands.add_parser("issue-code", help="issue a visitor code")
    _target_args(issue)
    issue.add_argument("--unit", required=True, help="BUILDING/UNIT/ROOM, e.g. 3/2/301")
    issue.add_argument("--valid-hours", type=float, default=24)
    issue.add_argument("--max-uses", type=int, default=1)
    issue.add_argument("--code", help="the code to issue (default: random)")
    issue.add_argument("--digits", type=int, default=6, choices=range(4, 13), metavar="4..12")
    issue.set_defaults(func=_issue_code)

    for name, help_text in (("watchlist", "a watch-list delta"), ("people", "a people delta")):
        push = commands.add_parser(f"push-{name}", help=f"send {help_text} (JSON file)")
        _target_args(push)
        push.add_argument("--file", type=Path, required=True)
        push.set_defaults(func=_push(f"sync_{name}"))

    replay = commands.add_parser("replay", help="ask a gateway to re-send a sequence range")
    _target_args(replay)
    replay.add_argument("--since", type=int, required=True)
    replay.add_argument("--until", type=int)
    replay.set_defaults(func=_replay)

    bench = commands.add_parser("bench", help="outbox drain throughput to a local broker")
    bench.add_argument("--events", type=int, default=100_000)
    bench.add_argument("--window", type=int, default=100, help="QoS 1 messages in flight")
    bench.add_argument("--subscribe", action="store_true", help="also run a station subscriber")
    bench.add_argument("--target", type=float, default=500.0, help="events/s to pass")
    bench.add_argument(
        "--writes-per-s", type=float, default=0.0, help="other write transactions meanwhile"
    )
    bench.add_argument(
        "--write-hold-ms", type=float, default=0.0, help="how long each holds the write lock"
    )
    bench.add_argument(
        "--writer-process", action="store_true", help="write from another process (sqlite3)"
    )
    bench.set_defaults(func=_bench)
    return commands
