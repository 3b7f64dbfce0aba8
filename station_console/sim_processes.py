"""A simulation split over worker processes: paho waits on `select()`, which cannot watch file
descriptors above 1024, so one process holds at most ~300 MQTT sessions. Each worker runs a
`Simulation` of its slice of the gateways and answers the parent over a pipe; the parent offers
the same control methods as `Simulation` (totals, pause, drained, status_all, backlog,
alert_times, stop)."""

from __future__ import annotations

import math
import multiprocessing
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gateway.station.keys import load_public_key
from gateway.station.mqtt_client import BrokerAccess
from station_console.simulate import Simulation, SimulationPlan

PER_PROCESS = 200


def _worker(
    plan: SimulationPlan, port: int, ca: str, password: str, key_b64: str, pipe: Connection
) -> None:
    def access(gateway: str) -> BrokerAccess:
        return BrokerAccess(
            "127.0.0.1", port, ca_file=Path(ca), username=gateway, password=password
        )

    simulation = Simulation(plan, access, load_public_key(key_b64))
    simulation.start()
    pipe.send("ready")
    while True:
        command, argument = pipe.recv()
        if command == "stop":
            simulation.stop()
            pipe.send(None)
            return
        method = getattr(simulation, command)
        pipe.send(method(argument) if argument is not None else method())


class ProcessSimulation:
    def __init__(
        self, plan: SimulationPlan, port: int, ca: Path, password: str, key_b64: str
    ) -> None:
        self.plan = plan
        workers = math.ceil(plan.gateways / PER_PROCESS)
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes: list[Any] = []
        for index in range(workers):
            first = plan.first + index * PER_PROCESS
            count = min(PER_PROCESS, plan.first + plan.gateways - first)
            bursts = max(1, round(plan.burst_gateways * count / plan.gateways))
            part = replace(
                plan, first=first, gateways=count, burst_gateways=bursts, seed=plan.seed + index
            )
            parent, child = context.Pipe()
            process = context.Process(
                target=_worker, args=(part, port, str(ca), password, key_b64, child), daemon=True
            )
            self._pipes.append(parent)
            self._processes.append(process)

    def start(self) -> None:
        for process in self._processes:
            process.start()
        for pipe in self._pipes:
            if not pipe.poll(600) or pipe.recv() != "ready":
                raise RuntimeError("a simulation worker did not start")

    def _ask(self, command: str, argument: Any = None) -> list[Any]:
        for pipe in self._pipes:
            pipe.send((command, argument))
        return [pipe.recv() for pipe in self._pipes]

    def totals(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for part in self._ask("totals"):
            merged.update(part)
        return merged

    def alert_times(self) -> dict[str, float]:
        merged: dict[str, float] = {}
        for part in self._ask("alert_times"):
            merged.update(part)
        return merged

    def pause(self) -> None:
        self._ask("pause")

    def resume(self) -> None:
        self._ask("resume")

    def drained(self) -> bool:
        return all(self._ask("drained"))

    def status_all(self) -> None:
        self._ask("status_all")

    def backlog(self, per_gateway: int) -> None:
        self._ask("backlog", per_gateway)

    def stop(self) -> None:
        self._ask("stop")
        for process in self._processes:
            process.join(30)
