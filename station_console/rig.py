"""A whole station on this machine, for the tests and the load bench: a local mosquitto with the
station's delivery settings, a fresh PostgreSQL database, the station service (ingest + web +
watchdog) with a signing key from a file, and a simulation of N gateways that verify commands
with that key's public half. `StationRig.stop()` undoes all of it (the database is dropped)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, func, select, text

from gateway.station.keys import public_key_b64, save_private_key
from gateway.station.local_broker import LocalBroker
from gateway.station.mqtt_client import BrokerAccess
from station_console.config import ConsoleConfig
from station_console.local_rig import GATEWAY_PASSWORD, STATION_PASSWORD, station_broker
from station_console.schema import EventRow
from station_console.service import StationService
from station_console.sim_processes import ProcessSimulation
from station_console.simulate import Simulation, SimulationPlan


def admin_engine(admin_url: str) -> Any:
    return create_engine(admin_url, isolation_level="AUTOCOMMIT")


@dataclass
class StationRig:
    folder: Path
    broker: LocalBroker
    database_name: str
    admin_url: str
    service: StationService
    simulation: Simulation | ProcessSimulation

    @classmethod
    def start(
        cls,
        folder: Path,
        plan: SimulationPlan,
        admin_url: str,
        overrides: dict[str, Any] | None = None,
        processes: bool = False,
    ) -> StationRig:
        """`processes`: simulate in worker processes (needed beyond ~300 gateways)."""
        folder.mkdir(parents=True, exist_ok=True)
        names = [plan.name_format.format(n=n) for n in range(1, plan.gateways + 1)]
        broker = station_broker(folder / "broker", names, plan.prefix)
        broker.start()
        name = f"menwei_station_{uuid.uuid4().hex[:12]}"
        with admin_engine(admin_url).connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        key = Ed25519PrivateKey.generate()
        save_private_key(key, folder / "station.key")
        (folder / "station.password").write_text(STATION_PASSWORD + "\n")
        values: dict[str, Any] = {
            "broker": {
                "port": broker.port,
                "ca_file": str(broker.ca),
                "password_file": str(folder / "station.password"),
                "topic_prefix": plan.prefix,
            },
            "database": {"url": admin_url.rsplit("/", 1)[0] + "/" + name},
            "signing": {"key_file": str(folder / "station.key")},
            "gateways": {"telemetry_interval_s": plan.telemetry_interval_s},
            "web": {"port": 0, "secure_cookies": False},
        }
        for section, settings in (overrides or {}).items():
            values.setdefault(section, {}).update(settings)
        service = StationService.build(ConsoleConfig.model_validate(values))
        service.start()

        def access(gateway: str) -> BrokerAccess:
            return BrokerAccess(
                "127.0.0.1",
                broker.port,
                ca_file=broker.ca,
                username=gateway,
                password=GATEWAY_PASSWORD,
            )

        simulation: Simulation | ProcessSimulation
        if processes:
            simulation = ProcessSimulation(
                plan, broker.port, broker.ca, GATEWAY_PASSWORD, public_key_b64(key)
            )
        else:
            simulation = Simulation(plan, access, key.public_key())
        simulation.start()
        return cls(folder, broker, name, admin_url, service, simulation)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.service.web_port}"

    def stored(self) -> dict[str, tuple[int, int, int]]:
        """gateway -> (rows, distinct ids, highest seq) in the database."""
        with self.service.database.session() as session:
            rows = session.execute(
                select(
                    EventRow.gateway,
                    func.count(),
                    func.count(func.distinct(EventRow.id)),
                    func.max(EventRow.seq),
                ).group_by(EventRow.gateway)
            ).all()
        return {gateway: (count, ids, top) for gateway, count, ids, top in rows}

    def stop(self) -> None:
        try:
            self.simulation.stop()
            self.service.stop()
            self.broker.stop()
        finally:
            with admin_engine(self.admin_url).connect() as connection:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
                )
