"""Login throttling as an attacker on the LAN meets it: real uvicorn, real source addresses.

The attacker sends from 127.0.0.2 and the admin from 127.0.0.3 (Linux routes all of 127/8 to the
loopback interface, so each address is a different LAN host to the server). Guaranteed: bad
guesses from one source lock that name for that source only; a source that sprays names is locked
out altogether after `lockout_source_failures`; the throttle's state stays bounded and nothing of
it is written to the store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import inspect

from provisioning.login_throttle import HashBudget, LoginThrottle, source_key
from provisioning.serve import RunningServer, start_server
from tests.provisioning.conftest import ADMIN, PageHarness

ATTACKER, ADMIN_DESK = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def served(harness: PageHarness) -> Iterator[RunningServer]:
    server = start_server(harness.app, harness.deps.settings, port=0)
    yield server
    server.stop()


def client_from(server: RunningServer, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address, verify=False)
    return httpx.Client(
        base_url=f"https://127.0.0.1:{server.port}", transport=transport, timeout=60.0
    )


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/session", json={"username": username, "password": password})


def test_guessing_the_admin_password_locks_only_the_guessing_source(
    harness: PageHarness, served: RunningServer
) -> None:
    limit = harness.deps.settings.lockout_failures
    with client_from(served, ATTACKER) as attacker, client_from(served, ADMIN_DESK) as desk:
        for _ in range(limit):
            assert login(attacker, ADMIN[0], "Wrong-Password-1").status_code == 401
        signed_in = login(desk, *ADMIN)  # the admin, at their own desk, is not locked out
        assert signed_in.status_code == 200, signed_in.text
        assert desk.get("/api/v1/people").status_code == 200
        refused = login(attacker, *ADMIN)  # even the right password: this source is locked
        assert refused.status_code == 429 and refused.json()["detail"] == "locked"


def test_spraying_invented_names_locks_the_source_and_keeps_no_state_per_name(
    harness: PageHarness, served: RunningServer
) -> None:
    tried = 0
    with client_from(served, ATTACKER) as attacker, client_from(served, ADMIN_DESK) as desk:
        while tried < 30:
            response = login(attacker, f"ghost-{tried}", "Wrong-Password-1")
            if response.status_code == 429 and response.json()["detail"] == "login_busy":
                time.sleep(1.0)  # the CPU share is spent: not a guess, not counted
                continue
            tried += 1
            if response.status_code == 429:
                break
            assert response.status_code == 401
        assert response.status_code == 429 and response.json()["detail"] == "locked"
        assert tried == harness.deps.settings.lockout_source_failures + 1
        assert login(desk, *ADMIN).status_code == 200  # another source is not affected
    throttle = harness.app.state.context.auth.throttle
    assert len(throttle) <= harness.deps.settings.lockout_source_failures + 3
    with harness.store.sessions.reading() as session:  # nothing per name in the database
        assert "prov_login_throttle" not in inspect(session.connection()).get_table_names()


def test_throttle_tables_stay_bounded_under_many_sources_and_names() -> None:
    at = datetime.now(UTC)
    throttle = LoginThrottle(
        per_name=5, per_source=20, lockout=timedelta(minutes=15), max_entries=500
    )
    for i in range(20_000):
        source = source_key(f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
        if throttle.admit(source, f"user-{i}", at):
            throttle.settle(source, f"user-{i}", at, ok=False)
    assert len(throttle) <= 2 * 500
    # IPv6 hosts in one /64 are one source: rotating addresses does not reset the budget
    locked = 0
    for i in range(40):
        source = source_key(f"fd00:1:2:3::{i + 1:x}")
        if not throttle.admit(source, f"v6-{i}", at):
            locked += 1
            continue
        throttle.settle(source, f"v6-{i}", at, ok=False)
    assert locked == 20


def test_hash_budget_keeps_its_share_and_lets_a_trusted_source_through() -> None:
    now = [0.0]
    budget = HashBudget(0.25, 2.0, clock=lambda: now[0])
    at = datetime.now(UTC)

    def one_hash(source: str, seconds: float) -> bool:
        if not budget.take(source, at):
            return False
        with budget.hashing():
            now[0] += seconds
        return True

    budget.trust("10.0.0.9", at)
    admitted = [one_hash("10.0.0.66", 1.0) for _ in range(8)]
    # 2 s of burst plus a quarter of the time spent: two or three 1-second hashes, then none
    assert 2 <= admitted.count(True) <= 3 and admitted[-3:] == [False] * 3
    assert budget.refused >= 5
    assert one_hash("10.0.0.9", 1.0)  # the admin's desk, which signed in before
    assert not one_hash("10.0.0.66", 1.0)
    now[0] += 12.0  # idle: a quarter of 12 s refills the budget (up to the 2 s burst)
    assert one_hash("10.0.0.66", 1.0)
