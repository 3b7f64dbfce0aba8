"""The station console end to end: real mosquitto, real PostgreSQL, the service, three simulated
gateways verifying signed commands with the station's public key, and Debian's chromium driven
by Playwright. Login, an alert arriving live on the board and acknowledged, a remote open and a
watch-list push with their results, a gateway going offline, roles and CSRF, a broker killed
mid-run (nothing lost, nothing duplicated) and a lost message replayed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from station_console.rig import StationRig
from station_console.schema import AlertRow, AuditRow, CommandRow, EventRow
from tests.station.conftest import wait_until
from tests.station_console.conftest import OPERATOR, VIEWER, artifacts

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.fixture(scope="module")
def page(rig: StationRig) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        yield tab
        browser.close()


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def login(page: Any, base: str, user: tuple[str, str]) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[1])
    page.click("#login-button")


def test_login_refuses_a_wrong_password_then_opens_the_board(rig: StationRig, page: Any) -> None:
    page.goto(rig.base_url + "/")
    expect()(page).to_have_url(re.compile(r"/login$"))
    login(page, rig.base_url, (OPERATOR[0], "not-the-password"))
    expect()(page.locator("#login-error")).to_be_visible()
    login(page, rig.base_url, OPERATOR)
    expect()(page.locator("#live-state")).to_have_text("live")
    cookie = next(c for c in page.context.cookies() if c["name"] == "sc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.screenshot(path=str(artifacts() / "station-01-board.png"), full_page=True)


def test_alert_arrives_live_with_snapshot_and_is_acknowledged(rig: StationRig, page: Any) -> None:
    gateway = rig.simulation.by_name("gw-1")
    seq = gateway.alert("watchlist_match")
    alert_id = gateway.outbox[seq][1]["id"]
    row = page.locator(f"#alert-{alert_id}")
    expect()(row).to_be_visible()  # no reload: it came over the event stream
    expect()(row.locator(".door")).to_have_text("site-a/gw-1")
    expect()(row.locator(".kind")).to_have_text("watchlist_match")
    wait_until(lambda: row.locator("img.snap").evaluate("i => i.naturalWidth") > 0, 20, "image")
    page.screenshot(path=str(artifacts() / "station-02-alert.png"), full_page=True)
    row.locator("button.ack").click()
    expect()(page.locator(f"#alert-{alert_id}")).to_have_count(0)
    with rig.service.database.session() as session:
        stored = session.get(AlertRow, alert_id)
        assert stored is not None and stored.acknowledged_by == OPERATOR[0]
        actions = session.scalars(select(AuditRow.action).where(AuditRow.actor == OPERATOR[0]))
        assert "alert_ack" in set(actions)


def test_remote_open_is_signed_verified_by_the_gateway_and_its_result_shown(
    rig: StationRig, page: Any
) -> None:
    gateway = rig.simulation.by_name("gw-2")
    page.goto(rig.base_url + "/commands")
    page.select_option("#command-name", "open")
    page.fill("#command-target", "site-a/gw-2")
    page.click("#command-send")
    command_id = page.locator("#command-sent").inner_text().split()[-1]
    expect()(page.locator(f"#cmd-{command_id} .result")).to_contain_text("ok", timeout=30_000)
    assert gateway.opens == 1
    [result] = [r for r in gateway.results if r["command_id"] == command_id]
    assert result["ok"] and result["authenticated"]  # the gateway's verify_command passed it
    with rig.service.database.session() as session:
        row = session.get(CommandRow, command_id)
        assert row is not None and row.issued_by == f"station:{OPERATOR[0]}" and row.result_ok


def test_watch_list_push_reaches_the_gateway(rig: StationRig, page: Any) -> None:
    gateway = rig.simulation.by_name("gw-3")
    delta = '{"from_version": 0, "version": 1, "upserts": [], "removes": ["W-1"]}'
    page.goto(rig.base_url + "/commands")
    page.select_option("#command-name", "sync_watchlist")
    page.fill("#command-target", "site-a/gw-3")
    page.fill("#command-delta", delta)
    page.click("#command-send")
    command_id = page.locator("#command-sent").inner_text().split()[-1]
    expect()(page.locator(f"#cmd-{command_id} .result")).to_contain_text("ok", timeout=30_000)
    assert any(r["command_id"] == command_id and r["ok"] for r in gateway.results)
    page.fill("#command-target", "site-a/gw-3")
    page.select_option("#command-name", "sync_watchlist")
    page.fill("#command-delta", "not json")
    page.click("#command-send")
    expect()(page.locator("#command-error")).to_contain_text("not JSON")


def test_gateway_that_stops_telemetry_is_shown_offline_then_back(
    rig: StationRig, page: Any
) -> None:
    page.goto(rig.base_url + "/")
    expect()(page.locator("#live-state")).to_have_text("live")
    gateway = rig.simulation.by_name("gw-3")
    gateway.silent = True
    offline = page.locator("#gw-site-a-gw-3")
    expect()(offline).to_be_visible(timeout=30_000)
    page.screenshot(path=str(artifacts() / "station-03-offline.png"), full_page=True)
    gateway.silent = False
    expect()(offline).to_have_count(0, timeout=30_000)


def test_viewer_may_not_acknowledge_and_a_forged_form_is_refused(rig: StationRig) -> None:
    with httpx.Client(base_url=rig.base_url, follow_redirects=False) as client:
        client.post("/login", data={"username": VIEWER[0], "password": VIEWER[1]})
        board = client.get("/")
        csrf = re.search(r'name="csrf" content="([^"]+)"', board.text)
        assert board.status_code == 200 and csrf is not None
        refused = client.post("/alerts/x/ack", data={"csrf": csrf.group(1)})
        assert refused.status_code == 403
    with httpx.Client(base_url=rig.base_url, follow_redirects=False) as client:
        client.post("/login", data={"username": OPERATOR[0], "password": OPERATOR[1]})
        forged = client.post(
            "/commands", data={"csrf": "forged", "name": "open", "target": "site-a/gw-1"}
        )
        assert forged.status_code == 403
    assert rig.simulation.by_name("gw-1").opens == 0


def _settled(rig: StationRig) -> bool:
    totals = rig.simulation.totals()
    stored = rig.stored()
    return all(stored.get(g, (0, 0, 0)) == (top, top, top) for g, top in totals.items())


def test_broker_killed_mid_run_loses_and_duplicates_nothing(rig: StationRig) -> None:
    wait_until(lambda: sum(rig.simulation.totals().values()) > 60, 60, "traffic")
    rig.broker.kill()  # SIGKILL: what it had not saved is lost, replay must bring it back
    rig.broker.start()
    wait_until(lambda: rig.service.ingest.counters.connects >= 2, 60, "reconnect")
    rig.simulation.paused.set()
    try:
        for gateway in rig.simulation.gateways:
            wait_until(gateway.drained, 60, "gateway drained")
            gateway.status()  # the watermark shows a lost tail too
        wait_until(lambda: _settled(rig), 90, "every seq stored once")
    finally:
        rig.simulation.paused.clear()
    assert rig.service.ingest.book.missing_count() == 0


def test_a_lost_message_is_replayed_by_the_station_itself(rig: StationRig) -> None:
    gateway = rig.simulation.by_name("gw-2")
    lost = gateway.lose_next()
    gateway.access_event("card")  # the next seq shows the gap
    lost_id = gateway.outbox[lost][1]["id"]

    def stored() -> EventRow | None:
        with rig.service.database.session() as session:
            return session.get(EventRow, lost_id)

    wait_until(lambda: stored() is not None, 60, "the lost event, replayed")
    row = stored()
    assert row is not None and row.replayed and row.seq == lost
    with rig.service.database.session() as session:
        replays = session.scalars(
            select(CommandRow).where(CommandRow.name == "replay", CommandRow.gateway == "gw-2")
        ).all()
    assert any(r.issued_by == "station" for r in replays)
    wait_until(lambda: any(r.result_ok for r in _replays(rig)), 30, "replay result")


def _replays(rig: StationRig) -> list[CommandRow]:
    with rig.service.database.session() as session:
        return list(session.scalars(select(CommandRow).where(CommandRow.name == "replay")))


def test_event_search_and_the_flow_per_building(rig: StationRig) -> None:
    gateway = rig.simulation.by_name("gw-1")
    gateway.access_event("exit")
    seq = gateway.access_event("card")
    person = gateway.outbox[seq][1]["body"]["person"]
    wait_until(lambda: rig.stored()["gw-1"][2] >= seq, 30, "events stored")
    with httpx.Client(base_url=rig.base_url) as client:
        client.post("/login", data={"username": VIEWER[0], "password": VIEWER[1]})
        found = client.get("/events", params={"gateway": "gw-1", "person": person})
        assert found.status_code == 200 and person in found.text
        assert "site-a/gw-2" not in found.text
        flow = client.get("/flow", headers={"accept-language": "zh-CN"})
    assert "楼栋人员流动" in flow.text  # zh from the browser's language
    ins = [int(v) for v in re.findall(r'<td class="in">(\d+)</td>', flow.text)]
    outs = [int(v) for v in re.findall(r'<td class="out">(\d+)</td>', flow.text)]
    assert sum(ins) > 0 and sum(outs) > 0


def test_retention_keeps_each_kind_its_own_time(rig: StationRig) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func

    from station_console.retention import purge
    from station_console.schema import TelemetryRow

    rig.simulation.paused.set()
    later = datetime.now(UTC) + timedelta(days=200)  # past events (180) and telemetry (7)
    with rig.service.database.session() as session:
        alerts_before = session.scalar(select(func.count()).select_from(AlertRow))
        counts = purge(session, rig.service.config.retention, later)
    assert counts["events"] > 0 and counts["telemetry"] > 0 and counts["alerts"] == 0
    with rig.service.database.session() as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == alerts_before
        assert session.scalar(select(func.count()).select_from(TelemetryRow)) == 0
        kinds = set(session.scalars(select(EventRow.type)))
    assert kinds <= {"alert"}  # an alert's event stays as long as the alert
