"""Watch-list entries pushed by the station (encrypted like face templates) and sync versions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.store.crypto import Sealed, TemplateCipher, template_aad
from gateway.store.errors import TemplateIntegrityError
from gateway.store.schema_credentials import SyncVersion, WatchlistEntry

STREAMS = ("people", "watchlist")


@dataclass
class WatchlistLoad:
    rows: list[tuple[str, str, npt.NDArray[np.float32]]] = field(default_factory=list)
    refused_by_model: Counter[str] = field(default_factory=Counter)
    unreadable_external_ids: list[str] = field(default_factory=list)


def upsert_watchlist_entry(
    session: Session,
    cipher: TemplateCipher,
    *,
    external_id: str,
    category: str,
    model_id: str,
    vector: npt.ArrayLike,
    version: int,
    at: datetime,
) -> WatchlistEntry:
    data = np.asarray(vector, dtype=np.float32).reshape(-1)
    dimension = int(data.shape[0])
    sealed = cipher.seal(data, template_aad("watchlist", external_id, model_id, dimension))
    entry = session.scalars(
        select(WatchlistEntry).where(WatchlistEntry.external_id == external_id)
    ).one_or_none()
    if entry is None:
        entry = WatchlistEntry(external_id=external_id)
        session.add(entry)
    entry.category = category
    entry.model_id = model_id
    entry.dimension = dimension
    entry.key_id = sealed.key_id
    entry.nonce = sealed.nonce
    entry.ciphertext = sealed.ciphertext
    entry.version = version
    entry.updated_at = at
    session.flush()
    return entry


def remove_watchlist_entry(session: Session, external_id: str) -> bool:
    result = session.execute(
        delete(WatchlistEntry).where(WatchlistEntry.external_id == external_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def load_watchlist(
    session: Session, cipher: TemplateCipher, model_id: str, dimension: int
) -> WatchlistLoad:
    """(external_id, category, vector) of every entry of the running model; others are counted."""
    result = WatchlistLoad()
    for entry in session.scalars(select(WatchlistEntry).order_by(WatchlistEntry.id)):
        if entry.model_id != model_id or entry.dimension != dimension:
            result.refused_by_model[entry.model_id] += 1
            continue
        aad = template_aad("watchlist", entry.external_id, entry.model_id, entry.dimension)
        try:
            vector = cipher.open(
                Sealed(entry.key_id, entry.nonce, entry.ciphertext), aad, dimension
            )
        except TemplateIntegrityError:
            result.unreadable_external_ids.append(entry.external_id)
            continue
        result.rows.append((entry.external_id, entry.category, vector))
    return result


def sync_version(session: Session, stream: str) -> int:
    """The last applied delta version of a stream (0 when none yet)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown sync stream {stream!r}")
    row = session.get(SyncVersion, stream)
    return 0 if row is None else row.version


def advance_sync_version(session: Session, stream: str, version: int, at: datetime) -> None:
    """Record that delta `version` was applied; a version older than the current one is refused."""
    current = sync_version(session, stream)
    if version < current:
        raise ValueError(f"{stream} sync version {version} is older than the stored {current}")
    row = session.get(SyncVersion, stream)
    if row is None:
        session.add(SyncVersion(stream=stream, version=version, updated_at=at))
    else:
        row.version = version
        row.updated_at = at
    session.flush()
