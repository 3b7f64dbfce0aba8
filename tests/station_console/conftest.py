"""Station console fixtures: one whole station per module (real mosquitto on a free port, a fresh
PostgreSQL database, the service with its web server, three simulated gateways), and an
operator account. PostgreSQL comes from the store tests' server (skipped loudly when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from station_console.rig import StationRig
from station_console.simulate import SimulationPlan
from station_console.web.auth import add_account
from tests.store.conftest import PG_ADMIN_URL, postgres_reachable

OPERATOR = ("duty", "Duty-Officer-1")
VIEWER = ("watcher", "Watcher-Pass-1")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StationRig]:
    problem = postgres_reachable()
    if problem is not None:
        pytest.skip(f"POSTGRESQL NOT REACHABLE at {PG_ADMIN_URL}: {problem}")
    plan = SimulationPlan(gateways=3, rate=2.0, telemetry_interval_s=1.0)
    overrides = {
        "gateways": {"offline_after_intervals": 2.0},
        "replay": {"grace_s": 0.5, "retry_s": 3.0},
    }
    station = StationRig.start(tmp_path_factory.mktemp("station"), plan, PG_ADMIN_URL, overrides)
    with station.service.database.session() as session:
        add_account(session, *OPERATOR, "operator", datetime.now(UTC))
        add_account(session, *VIEWER, "viewer", datetime.now(UTC))
    yield station
    station.stop()


def artifacts() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
