"""`menwei bench-login-flood`: card decisions at the door while the staff page is flooded.

It runs the real AccessService (store, models, policy, sim door) with the staff page served
beside it over HTTPS, and swipes a resident's card through the sim door's Wiegand lines: first
with the page idle (the baseline), then while a separate process (gateway.bench.flood_client)
posts bad logins from many LAN addresses, the attack of issue 12 item 2. Reported: decision time
per swipe (Wiegand frame in -> decision recorded), every refusal reason, what the flood got back,
and how long door writers waited for their write turn. Target: every swipe granted, and the
flood's p95 within a few times the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np

from gateway.access.policy import AccessDecision
from gateway.bench.scratch import scratch_store
from gateway.config import GatewayConfig, parse_config
from gateway.runtime.adapters import StaffPageStarter
from gateway.store.base import Method

CARD = (12, 3456)


@dataclass
class SwipeRun:
    """Decision times (ms) of a series of card swipes and the reason of each decision."""

    latencies_ms: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    granted: int = 0

    def summary(self) -> dict[str, Any]:
        values = self.latencies_ms or [float("nan")]
        return {
            "swipes": len(self.latencies_ms),
            "granted": self.granted,
            "reasons": dict(self.reasons),
            "p50_ms": float(np.percentile(values, 50)),
            "p95_ms": float(np.percentile(values, 95)),
            "max_ms": float(max(values)),
        }


def swipe_cards(
    present: Callable[[], None],
    decisions: Sequence[AccessDecision],
    count: int,
    *,
    spacing_s: float = 0.2,
    timeout_s: float = 30.0,
) -> SwipeRun:
    """Present the card `count` times, each after the previous one was decided."""
    run = SwipeRun()
    for _ in range(count):
        seen = sum(1 for d in decisions if d.method is Method.CARD)
        begin = time.perf_counter()
        present()
        deadline = begin + timeout_s
        decision = None
        while time.perf_counter() < deadline:
            cards = [d for d in decisions if d.method is Method.CARD]
            if len(cards) > seen:
                decision = cards[seen]
                break
            time.sleep(0.002)
        run.latencies_ms.append((time.perf_counter() - begin) * 1000.0)
        reason = "no_decision" if decision is None else decision.reason
        run.reasons[reason] += 1
        run.granted += int(decision is not None and decision.granted)
        time.sleep(spacing_s)
    return run


class LoginFlood:
    """The flood client process; `stop()` ends it and returns what its requests got back."""

    def __init__(self, url: str, threads: int, sources: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.bench.flood_client", url, str(threads), str(sources)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        out: IO[str] | None = self.process.stdout
        assert out is not None
        if out.readline().strip() != "flooding":
            self.process.kill()
            raise RuntimeError("the flood client did not start")

    def stop(self) -> dict[str, Any]:
        try:
            stdout, _ = self.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return {"responses": {}, "seconds": None}
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return result


def door_under_flood(
    present: Callable[[], None],
    decisions: Sequence[AccessDecision],
    page_url: str,
    *,
    swipes: int = 10,
    threads: int = 8,
    sources: int = 64,
    warmup_s: float = 2.0,
) -> dict[str, Any]:
    """Baseline swipes, then the same swipes during a login flood; both summarised."""
    baseline = swipe_cards(present, decisions, swipes)
    flood = LoginFlood(page_url, threads, sources)
    try:
        time.sleep(warmup_s)  # the flood's requests are queued and hashing by now
        loaded = swipe_cards(present, decisions, swipes)
    finally:
        attack = flood.stop()
    responses = attack.get("responses", {})
    seconds = attack.get("seconds") or float("nan")
    return {
        "baseline": baseline.summary(),
        "flood": loaded.summary(),
        "flood_requests": {
            "threads": threads,
            "sources": sources,
            "responses": responses,
            "per_s": sum(responses.values()) / seconds,
        },
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bench_config(workdir: Path, models: Path | None) -> GatewayConfig:
    """A fresh store, an empty looping camera and the sim door, in `workdir`."""
    import cv2

    camera = workdir / "camera"
    camera.mkdir()
    cv2.imwrite(str(camera / "empty.png"), np.full((480, 640, 3), 90, np.uint8))
    data: dict[str, Any] = {
        "store": scratch_store(workdir),
        "camera": {"source": str(camera), "kind": "folder", "paced": True, "loop": True},
        "door": {"backend": "sim"},
    }
    if models is not None:
        data["models"] = {"dir": str(models)}
    return parse_config(data)


def add_card_resident(config: GatewayConfig) -> int:
    """One resident of the configured door holding CARD; returns their person id."""
    from gateway.runtime.bootstrap import ensure_door
    from gateway.store.base import Role
    from gateway.store.credentials import add_card
    from gateway.store.people import add_person
    from gateway.store.places import add_unit
    from gateway.store.schema_people import Door
    from gateway.store.store import open_store

    store = open_store(config.store)
    try:
        with store.sessions.writing() as session:
            door = session.get(Door, ensure_door(session, config.site))
            assert door is not None
            unit = add_unit(session, door.building_id, "1", "101")
            person = add_person(
                session,
                external_id="R-0001",
                display_name="resident",
                role=Role.OWNER,
                unit_id=unit.id,
                valid_from=datetime.now(UTC) - timedelta(days=1),
            )
            add_card(session, person.id, *CARD)
            return person.id
    finally:
        store.close()


def measure(
    models: Path | None,
    swipes: int,
    threads: int,
    sources: int,
    workdir: Path,
    warmup_s: float = 2.0,
    *,
    staff_page: StaffPageStarter,
) -> dict[str, Any]:
    from firmware_bridge.backends.sim import SimDoorIO
    from firmware_bridge.wiegand import encode_card
    from gateway.config.staff_page import ProvisioningConfig
    from gateway.runtime.service import AccessService

    config = _bench_config(workdir, models)
    add_card_resident(config)
    decisions: list[AccessDecision] = []
    io = SimDoorIO(config.door)
    bits = encode_card(26, *CARD)
    settings = ProvisioningConfig(
        bind="127.0.0.1",
        port=_free_port(),
        tls_cert=workdir / "tls" / "cert.pem",
        tls_key=workdir / "tls" / "key.pem",
        photo_dir=workdir / "photos",
    )
    with AccessService(config, door_io=io, on_decision=decisions.append) as service:
        server = staff_page(service.application, settings, None)
        assert server is not None
        try:
            report = door_under_flood(
                lambda: io.present_wiegand(bits),
                decisions,
                f"https://127.0.0.1:{settings.port}",
                swipes=swipes,
                threads=threads,
                sources=sources,
                warmup_s=warmup_s,
            )
        finally:
            server.stop()
        lanes = getattr(service.store, "lanes", None)
        if lanes is not None and lanes.door.gate is not None:
            report["write_turn_waits"] = {
                lane.name.lower(): vars(stats) for lane, stats in lanes.door.gate.stats.items()
            }
    report["load_average_1min"] = os.getloadavg()[0]
    return report


def register(subparsers: Any, staff_page: StaffPageStarter) -> None:
    parser = subparsers.add_parser(
        "bench-login-flood", help="card decisions while the staff page is flooded with logins"
    )
    parser.add_argument("--swipes", type=int, default=10, help="card swipes per phase")
    parser.add_argument("--threads", type=int, default=8, help="flood client threads")
    parser.add_argument("--sources", type=int, default=64, help="LAN addresses of the flood")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of flood before the first swipe"
    )
    parser.add_argument("--models", type=Path, help="models folder (default: config default)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.set_defaults(func=lambda args: _run(args, staff_page))


def _run(args: argparse.Namespace, staff_page: StaffPageStarter) -> int:
    with tempfile.TemporaryDirectory(prefix="menwei-bench-") as tmp:
        report = measure(
            args.models,
            args.swipes,
            args.threads,
            args.sources,
            Path(tmp),
            args.warmup,
            staff_page=staff_page,
        )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for phase in ("baseline", "flood"):
        row = report[phase]
        print(
            f"{phase:8s}: {row['granted']}/{row['swipes']} granted, decision p50 "
            f"{row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms, max {row['max_ms']:.0f} ms "
            f"{row['reasons']}"
        )
    flood = report["flood_requests"]
    print(f"flood: {flood['per_s']:.0f} requests/s, responses {flood['responses']}")
    if "write_turn_waits" in report:
        print(f"write turn waits: {report['write_turn_waits']}")
    return 0
