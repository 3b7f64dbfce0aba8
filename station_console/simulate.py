"""`menwei station simulate`: N gateways (`SimGateway`) with normal traffic, alert bursts and
telemetry, to load the console without N boxes.

Each gateway sends access events at `rate` per second (Poisson), telemetry and status every
`telemetry_interval_s` (spread over the interval), and every `burst_every_s` a burst of
`burst_size` alerts from `burst_gateways` random gateways, and visitor calls at `call_rate` per
second (`SimCallDesk`: answered by `answer_call`, missed after `call_ring_s`). All run in this
process, one MQTT session each.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.station.mqtt_client import BrokerAccess
from station_console.sim_gateway import SimGateway


@dataclass(frozen=True)
class SimulationPlan:
    gateways: int
    rate: float  # access events per gateway per second
    telemetry_interval_s: float = 10.0
    burst_every_s: float = 0.0  # 0: no bursts
    burst_gateways: int = 5
    burst_size: int = 3
    call_rate: float = 0.0  # visitor calls per gateway per second
    call_ring_s: float = 45.0
    site: str = "site-a"
    name_format: str = "gw-{n}"
    prefix: str = "menwei/v1"
    seed: int = 1
    first: int = 1  # number of the first gateway (a slice of a bigger simulation)


def snapshot_jpeg(seed: int = 0) -> bytes:
    """A small real JPEG (a 96x96 noise image, ~6 KB) like a cropped face snapshot."""
    image = np.random.default_rng(seed).integers(0, 255, (96, 96, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(data)


class Simulation:
    def __init__(
        self,
        plan: SimulationPlan,
        access_for: Callable[[str], BrokerAccess],
        station_key: Ed25519PublicKey | None,
    ) -> None:
        self.plan = plan
        jpeg = snapshot_jpeg(plan.seed)
        self.gateways = [
            SimGateway(
                access_for(plan.name_format.format(n=n)),
                plan.prefix,
                plan.site,
                plan.name_format.format(n=n),
                station_key,
                jpeg,
                seed=plan.seed * 100_003 + n,
            )
            for n in range(plan.first, plan.first + plan.gateways)
        ]
        self.random = random.Random(plan.seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulate", daemon=True)
        self.paused = threading.Event()

    def by_name(self, gateway: str) -> SimGateway:
        return next(g for g in self.gateways if g.gateway == gateway)

    def start(self, connects_per_s: float = 100.0, timeout: float = 300.0) -> None:
        """Connect the gateways at a bounded rate (TLS handshakes are the costly part), wait
        until all are connected, then start the traffic."""
        for index, gateway in enumerate(self.gateways):
            gateway.start()
            if (index + 1) % max(1, int(connects_per_s / 10)) == 0:
                time.sleep(0.1)
        deadline = time.monotonic() + timeout
        for gateway in self.gateways:
            gateway.connected.wait(max(0.0, deadline - time.monotonic()))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        for gateway in self.gateways:
            gateway.stop()

    def burst(self) -> list[tuple[str, int]]:
        """Alerts from `burst_gateways` random gateways, `burst_size` each; (gateway, seq)."""
        chosen = self.random.sample(
            self.gateways, min(self.plan.burst_gateways, len(self.gateways))
        )
        return [(g.gateway, g.alert()) for g in chosen for _ in range(self.plan.burst_size)]

    def _run(self) -> None:
        tick, count = 0.1, len(self.gateways)
        interval = self.plan.telemetry_interval_s
        start = time.monotonic()
        last_burst = start
        next_telemetry = [start + interval * i / count for i in range(count)]
        while not self._stop.wait(tick):
            if self.paused.is_set():
                continue
            now = time.monotonic()
            for index, gateway in enumerate(self.gateways):
                events = self._poisson(self.plan.rate * tick)
                for _ in range(events):
                    gateway.access_event()
                for _ in range(self._poisson(self.plan.call_rate * tick)):
                    room = f"{self.random.randrange(1, 33):02d}01"
                    gateway.place_call(room, self.plan.call_ring_s)
                gateway.end_missed_calls()
                if now >= next_telemetry[index]:
                    next_telemetry[index] += interval
                    gateway.telemetry()
            if self.plan.burst_every_s > 0 and now - last_burst >= self.plan.burst_every_s:
                last_burst = now
                self.burst()

    def _poisson(self, mean: float) -> int:
        if mean <= 0:
            return 0
        count, threshold, product = 0, pow(2.718281828459045, -mean), self.random.random()
        while product > threshold:
            count += 1
            product *= self.random.random()
        return count

    def pause(self) -> None:
        self.paused.set()

    def resume(self) -> None:
        self.paused.clear()

    def drained(self) -> bool:
        return all(gateway.drained() for gateway in self.gateways)

    def status_all(self) -> None:
        for gateway in self.gateways:
            gateway.status()

    def backlog(self, per_gateway: int) -> None:
        for _ in range(per_gateway):
            for gateway in self.gateways:
                gateway.access_event()

    def alert_times(self) -> dict[str, float]:
        """Alert envelope id -> its gateway-side created_at (Unix ms)."""
        times: dict[str, float] = {}
        for gateway in self.gateways:
            for _, envelope in list(gateway.outbox.values()):
                if envelope["type"] == "alert":
                    created = datetime.fromisoformat(envelope["created_at"])
                    times[envelope["id"]] = created.timestamp() * 1000
        return times

    def totals(self) -> dict[str, int]:
        """Highest seq of every gateway: what the station must hold, gapless from 1."""
        return {g.gateway: g.seq for g in self.gateways}


def read_public_key(path: Path | None) -> Ed25519PublicKey | None:
    from gateway.station.keys import load_private_key

    return None if path is None else load_private_key(path).public_key()
