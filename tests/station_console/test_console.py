"""The station console end to end: real mosquitto, real PostgreSQL, the service, three simulated
gateways verifying signed commands with the station's public key, and Debian's chromium driven
by Playwright. Login, an alert arriving live on the board and acknowledged, a remote open and a
watch-list push with their results, a visitor call ringing live and answered from the board (its
snapshot gone when it ends), a gateway going offline, roles and CSRF, a broker killed mid-run
(nothing lost, nothing duplicated) and a lost message replayed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from station_console.rig import StationRig
from station_console.schema import AlertRow, AuditRow, CallRow, CommandRow, EventRow
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


def _call(rig: StationRig, call_id: str) -> CallRow | None:
    with rig.service.database.session() as session:
        return session.get(CallRow, call_id)


def test_visitor_call_rings_live_and_the_operator_accepts_it(rig: StationRig, page: Any) -> None:
    page.goto(rig.base_url + "/")
    expect()(page.locator("#live-state")).to_have_text("live")
    gateway = rig.simulation.by_name("gw-1")
    call_id = gateway.place_call("1201")
    row = page.locator(f"#call-{call_id}")
    expect()(row).to_be_visible()  # no reload: it came over the event stream
    expect()(row.locator(".unit")).to_have_text("1/1/1201")
    expect()(row.locator(".door")).to_have_text("site-a/gw-1/main")
    wait_until(lambda: row.locator("img.snap").evaluate("i => i.naturalWidth") > 0, 20, "image")
    ringing = _call(rig, call_id)
    assert ringing is not None and ringing.state == "ringing" and ringing.snapshot
    page.screenshot(path=str(artifacts() / "station-04-call.png"), full_page=True)
    row.locator("button.accept").click()
    row = page.locator(f"#call-{call_id}")
    expect()(row.locator(".answer-result")).to_contain_text("call_accepted", timeout=30_000)
    expect()(row.locator(".state")).to_have_text("accepted")
    expect()(row.locator("img.snap")).to_have_count(0)
    assert gateway.calls.opens == 1
    [result] = [r for r in gateway.results if r["name"] == "answer_call"]
    assert result["ok"] and result["authenticated"] and result["data"]["opened"]
    ended = _call(rig, call_id)
    assert ended is not None and ended.state == "accepted" and ended.snapshot is None
    assert ended.answered_by == f"station:{OPERATOR[0]}"
    with rig.service.database.session() as session:
        command = session.get(CommandRow, str(ended.answer_command_id))
        assert command is not None and command.name == "answer_call" and command.result_ok
        actions = set(session.scalars(select(AuditRow.action).where(AuditRow.actor == OPERATOR[0])))
    assert "call_answer" in actions
    gone = page.request.get(f"{rig.base_url}/calls/{call_id}/snapshot.jpg")
    assert gone.status == 404  # deleted from the station's database with the call
    csrf = page.locator('meta[name="csrf"]').get_attribute("content")
    again = page.request.post(
        f"{rig.base_url}/calls/{call_id}/answer", form={"csrf": csrf, "answer": "accept"}
    )
    assert again.status == 409 and gateway.calls.opens == 1  # an ended call opens nothing


def test_a_viewer_cannot_answer_and_ended_calls_keep_no_snapshot(rig: StationRig) -> None:
    gateway = rig.simulation.by_name("gw-2")
    call_id = gateway.place_call("0301")
    wait_until(lambda: _call(rig, call_id) is not None, 30, "call stored")
    with httpx.Client(base_url=rig.base_url, follow_redirects=False) as client:
        client.post("/login", data={"username": VIEWER[0], "password": VIEWER[1]})
        board = client.get("/")
        csrf = re.search(r'name="csrf" content="([^"]+)"', board.text)
        assert csrf is not None and f'id="call-{call_id}"' in board.text
        assert 'class="accept"' not in board.text  # no buttons for a viewer
        refused = client.post(
            f"/calls/{call_id}/answer", data={"csrf": csrf.group(1), "answer": "accept"}
        )
        assert refused.status_code == 403
    with httpx.Client(base_url=rig.base_url, follow_redirects=False) as client:
        client.post("/login", data={"username": OPERATOR[0], "password": OPERATOR[1]})
        csrf = re.search(r'name="csrf" content="([^"]+)"', client.get("/").text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "answer": "decline", "by": "R-0042"}
        assert client.post(f"/calls/{call_id}/answer", data=form).status_code == 400
        form["by"] = "resident:R-0042"  # the operator relays the resident's answer
        assert client.post(f"/calls/{call_id}/answer", data=form).status_code == 303
    wait_until(lambda: getattr(_call(rig, call_id), "state", "") == "declined", 30, "declined")
    declined = _call(rig, call_id)
    assert declined is not None and declined.snapshot is None
    assert declined.answered_by == "resident:R-0042" and gateway.calls.opens == 0
    missed_id = gateway.place_call("0401", ring_s=0.5)  # nobody answers
    wait_until(lambda: getattr(_call(rig, missed_id), "state", "") == "missed", 30, "missed")
    assert getattr(_call(rig, missed_id), "snapshot", b"") is None


def test_a_call_whose_end_never_arrives_loses_its_snapshot(rig: StationRig) -> None:
    """The watchdog closes a call still ringing after [calls] snapshot_max_s (the gateway died
    before its end reached the station) and deletes the caller's snapshot."""
    from datetime import UTC, datetime, timedelta

    placed = datetime.now(UTC) - timedelta(seconds=rig.service.config.calls.snapshot_max_s + 1)
    with rig.service.database.session() as session:
        session.add(
            CallRow(
                call_id="ab" * 16,
                site="site-a",
                gateway="gw-3",
                door="main",
                state="ringing",
                placed_at=placed,
                received_at=placed,
                snapshot=b"\xff\xd8\xff",
                snapshot_truncated=False,
            )
        )
    wait_until(lambda: getattr(_call(rig, "ab" * 16), "state", "") == "unresolved", 30, "closed")
    assert getattr(_call(rig, "ab" * 16), "snapshot", b"") is None


def _call_message(gateway: str, call_id: str, outcome: str, data: str | None) -> Any:
    from datetime import UTC, datetime

    from gateway.store.uuid7 import uuid7
    from station_console.messages import Envelope

    snapshot = None if data is None else {"data": data, "truncated": False}
    body = {"call_id": call_id, "outcome": outcome, "door": "main", "snapshot": snapshot}
    now = datetime.now(UTC)
    return Envelope(str(uuid7()), 1, "site-a", gateway, "visitor_call", now, True, body)


def test_calls_out_of_order_or_from_another_gateway_keep_no_snapshot(rig: StationRig) -> None:
    from datetime import UTC, datetime

    from station_console.calls import record_call

    late, foreign = "cd" * 16, "ef" * 16
    with rig.service.database.session() as session:
        now = datetime.now(UTC)
        record_call(session, _call_message("gw-3", late, "missed", None), now)
        assert record_call(session, _call_message("gw-3", late, "placed", "/9j/"), now) is None
        record_call(session, _call_message("gw-3", foreign, "placed", "/9j/"), now)
        assert record_call(session, _call_message("gw-1", foreign, "declined", None), now) is None
    ended, ringing = _call(rig, late), _call(rig, foreign)
    assert ended is not None and ended.state == "missed" and ended.snapshot is None
    assert (
        ringing is not None and ringing.state == "ringing" and ringing.snapshot == b"\xff\xd8\xff"
    )


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
    placed = [int(v) for v in re.findall(r'<td class="calls-placed">(\d+)</td>', flow.text)]
    accepted = [int(v) for v in re.findall(r'<td class="calls-accepted">(\d+)</td>', flow.text)]
    assert sum(placed) >= 3 and sum(accepted) >= 1  # the calls answered above


def test_retention_keeps_each_kind_its_own_time(rig: StationRig) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func

    from station_console.retention import purge
    from station_console.schema import TelemetryRow

    rig.simulation.paused.set()  # and let what is in flight land first: nothing after the purge
    wait_until(lambda: rig.simulation.drained() and _settled(rig), 60, "traffic settled")
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
