"""Erasing a person for real: credentials deleted, history pseudonymised, freed pages zeroed.

In one transaction: face templates, cards, PIN, schedule and the visitor codes they issued are
deleted; consents, past access events and queued outbox payloads lose the person reference and
get the person's stable pseudonym instead; the person row keeps only the pseudonym, role and
dates (name, external id and unit are gone). SQLite runs with secure_delete=ON, so deleted
records are overwritten with zeros in the pages; after the commit the WAL is checkpointed and
truncated so old page images in the WAL do not keep the ciphertext either. Pre-migration backups
are separate files: they age out with the backup folder's retention, erasure cannot reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from gateway.store.alerts_audit import append_audit
from gateway.store.crypto import TemplateCipher, pseudonym_for
from gateway.store.engine import Sessions
from gateway.store.people import get_person
from gateway.store.schema_credentials import Card, FaceTemplate, Pin, VisitorCode
from gateway.store.schema_events import AccessEvent, OutboxMessage
from gateway.store.schema_people import Consent, WeeklyWindow


@dataclass(frozen=True)
class ErasureReport:
    pseudonym: str
    templates: int
    cards: int
    pins: int
    visitor_codes: int
    consents_unlinked: int
    events_pseudonymised: int
    outbox_pseudonymised: int


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


def _pseudonymise_outbox(session: Session, person_id: int, external_id: str, pseudonym: str) -> int:
    """Replace the person's external id in queued payloads (delivered or not) by the pseudonym."""
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.person_id == person_id)
    ).all()
    for message in messages:
        message.payload = {
            key: pseudonym if value == external_id else value
            for key, value in message.payload.items()
        }
        message.person_id = None
    return len(messages)


def erase_person(
    session: Session,
    cipher: TemplateCipher,
    person_id: int,
    *,
    actor: str,
    at: datetime,
    source_address: str | None = None,
) -> ErasureReport:
    """Erase inside the caller's transaction (see `erase_and_purge` for the full procedure)."""
    person = get_person(session, person_id)
    pseudonym = pseudonym_for(cipher, person_id)
    outbox_rows = _pseudonymise_outbox(session, person_id, person.external_id, pseudonym)
    report = ErasureReport(
        pseudonym=pseudonym,
        templates=_count(
            session.execute(delete(FaceTemplate).where(FaceTemplate.person_id == person_id))
        ),
        cards=_count(session.execute(delete(Card).where(Card.person_id == person_id))),
        pins=_count(session.execute(delete(Pin).where(Pin.person_id == person_id))),
        visitor_codes=_count(
            session.execute(delete(VisitorCode).where(VisitorCode.issued_by_person_id == person_id))
        ),
        consents_unlinked=_count(
            session.execute(
                update(Consent)
                .where(Consent.person_id == person_id)
                .values(
                    person_id=None,
                    person_pseudonym=pseudonym,
                    withdrawn_at=at,
                )
                .execution_options(synchronize_session=False)
            )
        ),
        events_pseudonymised=_count(
            session.execute(
                update(AccessEvent)
                .where(AccessEvent.person_id == person_id)
                .values(person_id=None, person_pseudonym=pseudonym)
                .execution_options(synchronize_session=False)
            )
        ),
        outbox_pseudonymised=outbox_rows,
    )
    session.execute(delete(WeeklyWindow).where(WeeklyWindow.person_id == person_id))
    person.display_name = None
    person.external_id = pseudonym
    person.unit_id = None
    person.active = False
    person.erased_at = at
    person.pseudonym = pseudonym
    append_audit(
        session,
        actor=actor,
        action="erase_person",
        target=pseudonym,
        occurred_at=at,
        source_address=source_address,
    )
    session.flush()
    return report


def truncate_wal(engine: Engine) -> bool:
    """Checkpoint the WAL into the database and truncate it; False if readers kept it busy."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as connection:
        row = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return int(row[0]) == 0


def erase_and_purge(
    sessions: Sessions,
    cipher: TemplateCipher,
    person_id: int,
    *,
    actor: str,
    at: datetime,
    source_address: str | None = None,
) -> tuple[ErasureReport, bool]:
    """Erase, commit, then truncate the WAL; returns the report and whether the WAL was cleared."""
    with sessions.writing() as session:
        report = erase_person(
            session, cipher, person_id, actor=actor, at=at, source_address=source_address
        )
    return report, truncate_wal(sessions.engine)
