"""Visitor codes through the application layer: one cap, one transaction, one audit row; and the
same cap on every adapter (staff page form, JSON API, station command)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.application.actor import Actor
from gateway.application.visitor_codes import (
    MAX_USES,
    CodeRefused,
    CodeRequest,
    UnitRef,
    VisitorCodes,
)
from gateway.store.schema_credentials import VisitorCode
from gateway.store.schema_events import AuditEntry
from gateway.store.store import Store
from tests.store.conftest import T0, World

ACTOR = Actor("warden", "192.0.2.7")


def _codes(store: Store, world: World) -> VisitorCodes:
    return VisitorCodes(store, world.door_id, lambda: T0)


def _request(uses: int = 1, room: str = "101", code: str | None = None) -> CodeRequest:
    return CodeRequest(UnitRef("1", room), T0, T0 + timedelta(hours=2), uses, code)


def _counts(store: Store) -> tuple[int, int]:
    with store.sessions.reading() as session:
        codes = session.scalar(select(func.count()).select_from(VisitorCode))
        audits = session.scalar(select(func.count()).select_from(AuditEntry))
    return int(codes or 0), int(audits or 0)


def test_issue_writes_the_code_and_one_audit_row_naming_the_actor(
    store: Store, world: World
) -> None:
    issued = _codes(store, world).issue(_request(uses=MAX_USES), ACTOR)
    with store.sessions.reading() as session:
        row = session.get(VisitorCode, issued.code_id)
        [audit] = session.scalars(select(AuditEntry))
    assert row is not None and row.max_uses == MAX_USES and row.issued_by == "warden"
    assert (audit.actor, audit.action, audit.target) == (
        "warden",
        "issue_visitor_code",
        f"code:{issued.code_id}",
    )
    assert audit.source_address == "192.0.2.7"


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (_request(uses=MAX_USES + 1), "bad_max_uses"),
        (_request(uses=0), "bad_max_uses"),
        (_request(room="999"), "unknown_unit"),
        (_request(code="12ab"), "malformed"),
        (CodeRequest(UnitRef("1", "101"), T0, T0, 1), "bad_window"),
    ],
)
def test_a_refused_request_writes_nothing(
    store: Store, world: World, request_: CodeRequest, code: str
) -> None:
    with pytest.raises(CodeRefused) as refused:
        _codes(store, world).issue(request_, ACTOR)
    assert refused.value.code == code
    assert _counts(store) == (0, 0)


def test_a_code_in_another_building_of_the_site_is_found_by_building(
    store: Store, world: World
) -> None:
    issued = _codes(store, world).issue(
        CodeRequest(UnitRef("1", "501", building="5"), T0, T0 + timedelta(hours=1)), ACTOR
    )
    assert issued.code_id > 0


def test_revoke_audits_once_and_an_unknown_code_is_refused(store: Store, world: World) -> None:
    codes = _codes(store, world)
    issued = codes.issue(_request(), ACTOR)
    codes.revoke(issued.code_id, ACTOR)
    with pytest.raises(CodeRefused) as refused:
        codes.revoke(issued.code_id + 1000, ACTOR)
    assert refused.value.code == "unknown_code"
    with store.sessions.reading() as session:
        assert session.get(VisitorCode, issued.code_id).revoked  # type: ignore[union-attr]
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["issue_visitor_code", "revoke_visitor_code"]
