"""Visitor codes: issue (hashed with the site's HMAC secret), redeem atomically, revoke.

Redeeming is one conditional UPDATE ... RETURNING: the use count only goes up while it is below
max_uses, inside the time window, not revoked, for a door in the code's scope. Concurrent redeems
serialise on the row (SQLite: BEGIN IMMEDIATE; PostgreSQL: the row lock plus the re-checked
WHERE), so a one-use code opens the door once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from gateway.store.places import door_site
from gateway.store.schema_credentials import VisitorCode, VisitorCodeDoor
from gateway.store.schema_people import Site
from gateway.store.secrets_hash import CodeHasher


@dataclass(frozen=True)
class IssuedCode:
    """The stored row id and the plain code (shown once to the issuer, never stored)."""

    code_id: int
    code: str


@dataclass(frozen=True)
class Redemption:
    """Result of a keypad entry: granted with the code's unit, or the reason it was refused."""

    granted: bool
    reason: str
    code_id: int | None = None
    unit_id: int | None = None


def _live_clause(code: type[VisitorCode], at: datetime) -> object:
    return and_(
        code.revoked.is_(False),
        code.use_count < code.max_uses,
        code.valid_from <= at,
        code.valid_until > at,
    )


def issue_visitor_code(
    session: Session,
    hasher: CodeHasher,
    *,
    site_id: int,
    unit_id: int,
    door_ids: Sequence[int],
    issued_by: str,
    issued_by_person_id: int | None,
    valid_from: datetime,
    valid_until: datetime,
    max_uses: int,
    digits: int = 6,
    code: str | None = None,
) -> IssuedCode:
    """Store a new code for a unit and doors; a random one unless `code` is given."""
    if not door_ids:
        raise ValueError("a visitor code must open at least one door")
    if not 4 <= digits <= 12:
        raise ValueError("visitor codes have 4 to 12 digits")
    site = session.get(Site, site_id)
    if site is None:
        raise ValueError(f"site {site_id} does not exist")
    for _attempt in range(20):
        plain = code if code is not None else f"{secrets.randbelow(10**digits):0{digits}d}"
        if not plain.isdigit():
            raise ValueError("a visitor code is digits only")
        code_hash = hasher.hash(site.code, plain)
        clash = session.scalar(
            select(VisitorCode.id).where(
                VisitorCode.site_id == site_id,
                VisitorCode.code_hash == code_hash,
                VisitorCode.revoked.is_(False),
                VisitorCode.use_count < VisitorCode.max_uses,
                VisitorCode.valid_until > valid_from,
            )
        )
        if clash is None:
            break
        if code is not None:
            raise ValueError("this code is already live for the site; choose another")
    else:
        raise RuntimeError("could not find a free visitor code; use more digits")
    row = VisitorCode(
        site_id=site_id,
        code_hash=code_hash,
        unit_id=unit_id,
        issued_by=issued_by,
        issued_by_person_id=issued_by_person_id,
        valid_from=valid_from,
        valid_until=valid_until,
        max_uses=max_uses,
        use_count=0,
        revoked=False,
    )
    session.add(row)
    session.flush()
    session.add_all(VisitorCodeDoor(code_id=row.id, door_id=door) for door in door_ids)
    session.flush()
    return IssuedCode(row.id, plain)


def redeem_visitor_code(
    session: Session, hasher: CodeHasher, *, door_id: int, code: str, at: datetime
) -> Redemption:
    """Use a code once at a door, atomically; call inside a writing() session."""
    site = door_site(session, door_id)
    code_hash = hasher.hash(site.code, code)
    candidate = aliased(VisitorCode)
    in_scope = exists().where(
        VisitorCodeDoor.code_id == candidate.id, VisitorCodeDoor.door_id == door_id
    )
    candidate_id = (
        select(candidate.id)
        .where(
            candidate.site_id == site.id,
            candidate.code_hash == code_hash,
            _live_clause(candidate, at),  # type: ignore[arg-type]
            in_scope,
        )
        .order_by(candidate.id)
        .limit(1)
        .scalar_subquery()
    )
    used = session.execute(
        update(VisitorCode)
        .where(VisitorCode.id == candidate_id, _live_clause(VisitorCode, at))  # type: ignore[arg-type]
        .values(use_count=VisitorCode.use_count + 1)
        .returning(VisitorCode.id, VisitorCode.unit_id)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if used is not None:
        return Redemption(True, "ok", used.id, used.unit_id)
    return Redemption(False, _refusal_reason(session, site.id, code_hash, door_id, at))


def _refusal_reason(
    session: Session, site_id: int, code_hash: str, door_id: int, at: datetime
) -> str:
    rows = session.scalars(
        select(VisitorCode).where(
            VisitorCode.site_id == site_id, VisitorCode.code_hash == code_hash
        )
    ).all()
    if not rows:
        return "code_unknown"
    reasons = []
    for row in rows:
        doors = session.scalars(
            select(VisitorCodeDoor.door_id).where(VisitorCodeDoor.code_id == row.id)
        ).all()
        if row.revoked:
            reasons.append("code_revoked")
        elif at < row.valid_from:
            reasons.append("code_not_yet_valid")
        elif at >= row.valid_until:
            reasons.append("code_expired")
        elif row.use_count >= row.max_uses:
            reasons.append("code_used_up")
        elif door_id not in doors:
            reasons.append("code_wrong_door")
    return reasons[-1] if reasons else "code_unknown"


def revoke_visitor_code(session: Session, code_id: int) -> bool:
    changed = session.execute(
        update(VisitorCode).where(VisitorCode.id == code_id).values(revoked=True)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]
