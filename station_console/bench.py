"""`menwei station console-bench`: load the whole station on this machine and measure it.

N simulated gateways (normal traffic, alert bursts, telemetry) against a real mosquitto and
PostgreSQL and the station service, the board open in Debian's chromium, the broker killed
(SIGKILL) and restarted half-way. Then traffic stops, every gateway's status shows its
watermark, and the bench waits until the database holds every seq of every gateway. Reported:
events lost / duplicated in the database, replays sent, the alert -> board latency (gateway's
`created_at` to the browser receiving it over SSE, p50/p95/max), and the ingest rate against the
rate the gateways published at.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station_console.rig import StationRig
from station_console.simulate import SimulationPlan
from station_console.web.auth import add_account

CHROMIUM = Path("/usr/bin/chromium")
BENCH_USER = ("bench", "Bench-Operator-1")


@dataclass(frozen=True)
class BenchPlan:
    gateways: int = 1000
    rate: float = 0.05
    seconds: float = 60.0
    burst_every_s: float = 5.0
    burst_gateways: int = 10
    burst_size: int = 3
    telemetry_interval_s: float = 10.0
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    browser: bool = True
    settle_timeout_s: float = 600.0
    backlog_per_gateway: int = 20  # phase 2: events queued at the broker while ingest holds


@dataclass
class BenchReport:
    plan: BenchPlan
    published: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    redelivered_dropped: int = 0
    replays_sent: int = 0
    settle_s: float = 0.0
    run_s: float = 0.0
    offered_per_s: float = 0.0
    ingested_per_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # alerts while the board was open
    steady_ms: list[float] = field(default_factory=list)  # ... and not during the broker outage
    samples: list[tuple[float, float]] = field(default_factory=list)  # (created - start s, ms)
    alerts: int = 0
    backlog: int = 0
    broker_accept_per_s: float = 0.0
    backlog_ingest_per_s: float = 0.0

    @staticmethod
    def percentile(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def lines(self) -> list[str]:
        p = self.plan
        lines = [
            f"{p.gateways} gateways, {p.rate}/s access events each, bursts of {p.burst_gateways}x"
            f"{p.burst_size} alerts every {p.burst_every_s} s, telemetry every "
            f"{p.telemetry_interval_s} s, {p.seconds:.0f} s with a broker SIGKILL half-way",
            f"events published {self.published}, stored {self.stored}, lost {self.lost}, "
            f"duplicated {self.duplicated} (re-deliveries dropped by id: "
            f"{self.redelivered_dropped}), replays sent {self.replays_sent}, settled "
            f"{self.settle_s:.1f} s after traffic stopped",
            f"gateways published {self.offered_per_s:.0f} events/s; ingest stored "
            f"{self.ingested_per_s:.0f} events/s over the run",
        ]
        if self.backlog:
            lines.append(
                f"backlog of {self.backlog} events: the broker accepted them at "
                f"{self.broker_accept_per_s:.0f}/s (all gateways at once), the ingest stored "
                f"them at {self.backlog_ingest_per_s:.0f}/s"
            )
        if self.latencies_ms:
            every, steady = self.latencies_ms, self.steady_ms
            lines.append(
                f"alert -> board (chromium, SSE), {len(every)} alerts raised while the board "
                f"was open (of {self.alerts}): p50 {self.percentile(every, 50):.0f} ms, p95 "
                f"{self.percentile(every, 95):.0f} ms, max {max(every):.0f} ms; the "
                f"{len(steady)} outside the broker outage (kill .. restart + 10 s): p50 "
                f"{self.percentile(steady, 50):.0f} ms, p95 {self.percentile(steady, 95):.0f} ms"
            )
        return lines


def _open_board(rig: StationRig) -> tuple[Any, Any, Any]:
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(rig.base_url + "/login")
    page.fill("input[name=username]", BENCH_USER[0])
    page.fill("input[name=password]", BENCH_USER[1])
    page.click("#login-button")
    page.wait_for_selector("#live-state.live")
    return playwright, browser, page


def _settled(rig: StationRig) -> bool:
    stored = rig.stored()
    return all(
        stored.get(g, (0, 0, 0)) == (top, top, top) for g, top in rig.simulation.totals().items()
    )


def _wait_settled(rig: StationRig, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not rig.simulation.drained() and time.monotonic() < deadline:
        time.sleep(0.5)
    rig.simulation.status_all()
    while not _settled(rig) and time.monotonic() < deadline:
        time.sleep(0.2)


def _backlog_phase(rig: StationRig, plan: BenchPlan, report: BenchReport) -> None:
    """Ingest holds; every gateway publishes its backlog at once (how fast the broker takes
    it); then the ingest resumes (how fast the station stores what waited at the broker)."""
    if plan.backlog_per_gateway <= 0:
        return
    ingest = rig.service.ingest
    ingest.hold.set()
    start = time.monotonic()
    rig.simulation.backlog(plan.backlog_per_gateway)
    deadline = start + plan.settle_timeout_s
    while not rig.simulation.drained() and time.monotonic() < deadline:
        time.sleep(0.05)
    accepted = time.monotonic() - start
    report.backlog = plan.backlog_per_gateway * plan.gateways
    report.broker_accept_per_s = report.backlog / accepted
    resumed = time.monotonic()
    ingest.hold.clear()
    while not _settled(rig) and time.monotonic() < resumed + plan.settle_timeout_s:
        time.sleep(0.05)
    report.backlog_ingest_per_s = report.backlog / (time.monotonic() - resumed)
    _wait_settled(rig, plan.settle_timeout_s)


def run_console_bench(plan: BenchPlan) -> BenchReport:
    sim_plan = SimulationPlan(
        gateways=plan.gateways,
        rate=plan.rate,
        telemetry_interval_s=plan.telemetry_interval_s,
        burst_every_s=plan.burst_every_s,
        burst_gateways=plan.burst_gateways,
        burst_size=plan.burst_size,
    )
    report = BenchReport(plan)
    with tempfile.TemporaryDirectory(prefix="station-bench-") as folder:
        rig = StationRig.start(Path(folder), sim_plan, plan.database_url, processes=True)
        browser_parts: tuple[Any, Any, Any] | None = None
        try:
            with rig.service.database.session() as session:
                add_account(session, *BENCH_USER, "viewer", datetime.now(UTC))
            if plan.browser:
                browser_parts = _open_board(rig)
            start = time.monotonic()
            published_at_start = sum(rig.simulation.totals().values())
            stored_at_start = rig.service.ingest.counters.stored
            board_open_ms = time.time() * 1000
            time.sleep(plan.seconds / 2)
            outage = (time.time() * 1000, 0.0)
            rig.broker.kill()
            rig.broker.start()
            outage = (outage[0], time.time() * 1000 + 10_000)
            time.sleep(plan.seconds / 2)
            report.run_s = time.monotonic() - start
            report.offered_per_s = (
                sum(rig.simulation.totals().values()) - published_at_start
            ) / report.run_s
            report.ingested_per_s = (
                rig.service.ingest.counters.stored - stored_at_start
            ) / report.run_s
            rig.simulation.pause()
            stopped = time.monotonic()
            _wait_settled(rig, plan.settle_timeout_s)
            report.settle_s = time.monotonic() - stopped
            totals, stored = rig.simulation.totals(), rig.stored()
            report.published = sum(totals.values())
            report.stored = sum(rows for rows, _, _ in stored.values())
            report.lost = sum(
                max(0, top - stored.get(g, (0, 0, 0))[1]) for g, top in totals.items()
            )
            report.duplicated = sum(rows - ids for rows, ids, _ in stored.values())
            report.redelivered_dropped = rig.service.ingest.counters.duplicates
            report.replays_sent = rig.service.ingest.counters.replays_sent
            _backlog_phase(rig, plan, report)
            created = rig.simulation.alert_times()
            report.alerts = len(created)
            if browser_parts is not None:
                text = browser_parts[2].locator("#arrivals").inner_text()
                for line in text.splitlines():
                    alert_id, _, received = line.partition(" ")
                    at = created.get(alert_id)
                    if at is None or at < board_open_ms:
                        continue
                    report.latencies_ms.append(float(received) - at)
                    report.samples.append(((at - board_open_ms) / 1000, float(received) - at))
                    if not outage[0] <= at <= outage[1]:
                        report.steady_ms.append(float(received) - at)
        finally:
            if browser_parts is not None:
                browser_parts[1].close()
                browser_parts[0].stop()
            rig.stop()
    return report
