"""Visitor codes: hashed storage, time window, door scope, use limit, atomic redemption."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.store.schema_credentials import VisitorCode
from gateway.store.store import Store
from gateway.store.visitor_codes import (
    IssuedCode,
    issue_visitor_code,
    redeem_visitor_code,
    revoke_visitor_code,
)
from tests.store.conftest import T0, World


def issue(store: Store, world: World, max_uses: int = 1, code: str | None = None) -> IssuedCode:
    with store.sessions.writing() as session:
        return issue_visitor_code(
            session,
            store.codes,
            site_id=world.site_id,
            unit_id=world.unit_id,
            door_ids=[world.door_id],
            issued_by="resident-app",
            issued_by_person_id=world.owner_id,
            valid_from=T0,
            valid_until=T0 + timedelta(hours=4),
            max_uses=max_uses,
            code=code,
        )


def redeem(store: Store, door_id: int, code: str, offset_minutes: int = 10) -> str:
    with store.sessions.writing() as session:
        result = redeem_visitor_code(
            session,
            store.codes,
            door_id=door_id,
            code=code,
            at=T0 + timedelta(minutes=offset_minutes),
        )
    return result.reason


def test_code_is_stored_as_an_hmac_only(store: Store, world: World) -> None:
    issued = issue(store, world, code="135790")
    with store.sessions.reading() as session:
        row = session.get(VisitorCode, issued.code_id)
    assert row is not None and len(row.code_hash) == 64 and "135790" not in row.code_hash
    assert row.code_hash == store.codes.hash("yuyuan", "135790")
    assert store.codes.hash("other-site", "135790") != row.code_hash


def test_use_limit_window_scope_and_revocation(store: Store, world: World) -> None:
    issued = issue(store, world, max_uses=2)
    assert len(issued.code) == 6 and issued.code.isdigit()
    assert redeem(store, world.side_door_id, issued.code) == "code_wrong_door"
    assert redeem(store, world.door_id, issued.code, offset_minutes=-1) == "code_not_yet_valid"
    assert redeem(store, world.door_id, issued.code, offset_minutes=240) == "code_expired"
    assert redeem(store, world.door_id, issued.code) == "ok"
    assert redeem(store, world.door_id, issued.code) == "ok"
    assert redeem(store, world.door_id, issued.code) == "code_used_up"
    wrong = "000000" if issued.code != "000000" else "000001"
    assert redeem(store, world.door_id, wrong) == "code_unknown"
    second = issue(store, world, max_uses=5)
    with store.sessions.writing() as session:
        assert revoke_visitor_code(session, second.code_id)
    assert redeem(store, world.door_id, second.code) == "code_revoked"


def test_a_live_code_cannot_be_issued_twice(store: Store, world: World) -> None:
    issue(store, world, code="246810")
    with pytest.raises(ValueError, match="already live"):
        issue(store, world, code="246810")


def test_concurrent_redeems_never_exceed_max_uses(store: Store, world: World) -> None:
    issued = issue(store, world, max_uses=3)
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def attempt() -> None:
        start.wait()
        reason = redeem(store, world.door_id, issued.code)
        with lock:
            results.append(reason)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["code_used_up"] * 9 + ["ok"] * 3
    with store.sessions.reading() as session:
        assert (
            session.scalar(select(VisitorCode.use_count).where(VisitorCode.id == issued.code_id))
            == 3
        )
