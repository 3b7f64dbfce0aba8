"""Erase a person: the one path for the staff page form and the JSON API.

The store keeps only a pseudonym (gateway.store.erasure, which writes the audit row in the same
transaction), the WAL is truncated so no old page keeps the erased rows, the photos kept from
enrolment are deleted, and the running recogniser reloads its galleries. Before, the API path
left the kept photos on disk.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.application.actor import Actor
from gateway.application.refused import Refused
from gateway.store.erasure import erase_and_purge
from gateway.store.people import get_person
from gateway.store.store import Store


class ErasureRefused(Refused):
    """`code`: already_erased, or confirmation_mismatch (the typed external id differs)."""


@dataclass(frozen=True)
class Erased:
    pseudonym: str
    wal_cleared: bool  # False: committed, but an old snapshot kept the WAL (see erase_outcome)


class PersonErasure:
    def __init__(
        self,
        store: Store,
        now: Callable[[], datetime],
        photo_dir: Path | None,
        people_changed: Callable[[], None],
    ) -> None:
        self._store = store
        self._now = now
        self._photo_dir = photo_dir
        self._people_changed = people_changed

    def erase(self, person_id: int, actor: Actor, confirm_external_id: str | None = None) -> Erased:
        """Raises NotFound (no such person) or ErasureRefused."""
        with self._store.sessions.reading() as session:
            person = get_person(session, person_id)
            if person.erased_at is not None:
                raise ErasureRefused("already_erased")
            if confirm_external_id is not None and confirm_external_id.strip() != (
                person.external_id
            ):
                raise ErasureRefused("confirmation_mismatch")
        report, wal_cleared = erase_and_purge(
            self._store.sessions,
            self._store.cipher,
            person_id,
            actor=actor.name,
            at=self._now(),
            source_address=actor.source_address,
        )
        if self._photo_dir is not None:
            shutil.rmtree(self._photo_dir / str(person_id), ignore_errors=True)
        self._people_changed()
        return Erased(report.pseudonym, wal_cleared)
