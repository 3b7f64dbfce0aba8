"""Issue and revoke visitor codes: the one copy of the rules every path shares.

The staff page form, the JSON API and the station's `issue_code` all call `issue_code`: one cap on
`max_uses` (MAX_USES), the window checked, the unit looked up within the door's site, and the
code, its use and its audit row written in one transaction. The station chooses its own code (the
gateway stores only the hash); the staff page lets the gateway choose one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.application.actor import Actor
from gateway.application.refused import Refused
from gateway.store.alerts_audit import append_audit
from gateway.store.places import door_site
from gateway.store.schema_people import Building, Door, Unit
from gateway.store.store import Store
from gateway.store.visitor_codes import IssuedCode, issue_visitor_code, revoke_visitor_code

MAX_USES = 100  # a visitor code is for visitors: a long-lived shared code is a PIN by another name


class CodeRefused(Refused):
    """`code`: bad_window, bad_max_uses, unknown_unit, code_rejected, unknown_code."""


@dataclass(frozen=True)
class UnitRef:
    """A flat: unit and room number, in the door's own building unless `building` is given."""

    unit_number: str
    room_number: str
    building: str | None = None

    def __str__(self) -> str:
        prefix = f"{self.building}-" if self.building else ""
        return f"{prefix}{self.unit_number}-{self.room_number}"


@dataclass(frozen=True)
class CodeRequest:
    unit: UnitRef
    valid_from: datetime
    valid_until: datetime
    max_uses: int = 1
    code: str | None = None  # chosen by the station (4-12 digits); None: the gateway chooses


def _find_unit(session: Session, door_id: int, ref: UnitRef) -> Unit | None:
    door = session.get(Door, door_id)
    if door is None:
        return None
    if ref.building is None:
        where = Unit.building_id == door.building_id
    else:
        own = session.get(Building, door.building_id)
        if own is None:
            return None
        where = (Building.site_id == own.site_id) & (Building.number == ref.building.strip())
    return session.scalars(
        select(Unit)
        .join(Building, Unit.building_id == Building.id)
        .where(
            where,
            Unit.unit_number == ref.unit_number.strip(),
            Unit.room_number == ref.room_number.strip(),
        )
    ).one_or_none()


def check_request(request: CodeRequest) -> None:
    """The rules that need no store (raises CodeRefused)."""
    if not 1 <= request.max_uses <= MAX_USES:
        raise CodeRefused("bad_max_uses", f"max_uses must be 1..{MAX_USES}")
    if request.valid_until <= request.valid_from:
        raise CodeRefused("bad_window", "valid_until must be after valid_from")
    code = request.code
    if code is not None and (not code.isdigit() or not 4 <= len(code) <= 12):
        raise CodeRefused("malformed", "code must be 4 to 12 digits")


class VisitorCodes:
    """The visitor-code commands of one door."""

    def __init__(self, store: Store, door_id: int, now: Callable[[], datetime]) -> None:
        self._store = store
        self._door_id = door_id
        self._now = now

    def issue(self, request: CodeRequest, actor: Actor) -> IssuedCode:
        check_request(request)
        with self._store.sessions.writing() as session:
            unit = _find_unit(session, self._door_id, request.unit)
            if unit is None:
                raise CodeRefused("unknown_unit", f"no unit {request.unit}")
            try:
                issued = issue_visitor_code(
                    session,
                    self._store.codes,
                    site_id=door_site(session, self._door_id).id,
                    unit_id=unit.id,
                    door_ids=[self._door_id],
                    issued_by=actor.name,
                    issued_by_person_id=None,
                    valid_from=request.valid_from,
                    valid_until=request.valid_until,
                    max_uses=request.max_uses,
                    digits=len(request.code) if request.code else 6,
                    code=request.code,
                )
            except ValueError as error:  # already live for the site, or a bad window
                raise CodeRefused("code_rejected", str(error)) from error
            self._audit(session, actor, "issue_visitor_code", issued.code_id)
        return issued

    def revoke(self, code_id: int, actor: Actor) -> None:
        """Raises CodeRefused(unknown_code) when there is no such code."""
        with self._store.sessions.writing() as session:
            if not revoke_visitor_code(session, code_id):
                raise CodeRefused("unknown_code", f"no visitor code {code_id}")
            self._audit(session, actor, "revoke_visitor_code", code_id)

    def _audit(self, session: Session, actor: Actor, action: str, code_id: int) -> None:
        append_audit(
            session,
            actor=actor.name,
            action=action,
            target=f"code:{code_id}",
            occurred_at=self._now(),
            source_address=actor.source_address,
        )
