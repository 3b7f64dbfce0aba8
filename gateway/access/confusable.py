"""Confusable residents: faces so close that the door could take one for the other.

Rule (the door's own): two residents are confusable when a template of one scores at least
`threshold_for(competitors) - min_margin` against a template of the other, where
`threshold_for` is the running pack's effective resident threshold (the stricter small-gallery
value while few people are enrolled) and `min_margin` the margin the door demands over the
second-best person. Both are then set to two factors (face + PIN/card): the face narrows it down,
the second credential says who it is. The check runs at enrolment (the new face against everyone
else), at start-up when the model or threshold differs from the last check, and on demand
(`menwei people check-confusable`); every pair found is logged and audited.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.alerts_audit import append_audit
from gateway.store.credentials import set_two_factor
from gateway.store.gallery_load import GalleryRow, load_gallery_rows
from gateway.store.schema_credentials import ConfusableCheck
from gateway.store.schema_people import Person
from gateway.store.store import Store
from gateway.vision.decision import DecisionRule

LOG = logging.getLogger(__name__)
CHUNK_ROWS = 1024  # templates compared per block (bounds memory for large galleries)
SYSTEM_ACTOR = "menwei"


@dataclass(frozen=True)
class ConfusablePair:
    """Two residents (first < second) and the highest cosine between their templates."""

    first: int
    second: int
    score: float


@dataclass
class ConfusableReport:
    """What one check found and changed."""

    model_id: str
    threshold: float
    people: int
    pairs: list[ConfusablePair] = field(default_factory=list)
    newly_two_factor: list[int] = field(default_factory=list)


def confusable_threshold(rule: DecisionRule, identities: int) -> float:
    """The score at or above which two of `identities` enrolled people are confusable."""
    return rule.threshold_for(max(identities - 1, 0)) - rule.min_margin


def _unit_rows(vectors: Sequence[npt.ArrayLike]) -> npt.NDArray[np.float32]:
    matrix = np.asarray(np.stack([np.asarray(v, np.float32).reshape(-1) for v in vectors]))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, 1e-12), np.float32)


def find_pairs(rows: Sequence[GalleryRow], threshold: float) -> list[ConfusablePair]:
    """Every pair of different people with a template pair scoring >= threshold (best score)."""
    if not rows:
        return []
    people = sorted({row.person_id for row in rows})
    index = {person: i for i, person in enumerate(people)}
    order = sorted(range(len(rows)), key=lambda i: index[rows[i].person_id])
    owners = np.asarray([index[rows[i].person_id] for i in order], np.int64)
    matrix = _unit_rows([rows[i].vector for i in order])
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    bounds = [*starts.tolist(), len(order)]  # person i owns rows bounds[i]:bounds[i + 1]
    best = np.full((len(people), len(people)), -np.inf, np.float32)
    first = 0
    while first < len(people):  # blocks of whole people, about CHUNK_ROWS templates each
        last = first + 1
        while last < len(people) and bounds[last + 1] - bounds[first] <= CHUNK_ROWS:
            last += 1
        low, high = bounds[first], bounds[last]
        block = matrix[low:high] @ matrix.T  # (block templates, all templates)
        per_person = np.maximum.reduceat(block, starts, axis=1)  # (block templates, people)
        local = np.asarray(bounds[first:last]) - low
        best[first:last] = np.maximum.reduceat(per_person, local, axis=0)
        first = last
    np.fill_diagonal(best, -np.inf)
    found = []
    for first, second in zip(*np.nonzero(np.triu(best >= threshold, k=1)), strict=True):
        score = float(max(best[first, second], best[second, first]))
        found.append(ConfusablePair(people[int(first)], people[int(second)], score))
    return sorted(found, key=lambda pair: -pair.score)


def mark_confusable(
    session: Session,
    pairs: Sequence[ConfusablePair],
    *,
    actor: str,
    at: datetime,
    model_id: str,
    source_address: str | None = None,
) -> list[int]:
    """Set both people of every pair to two factors (audited); returns who changed."""
    changed: list[int] = []
    for pair in pairs:
        append_audit(
            session,
            actor=actor,
            action="confusable_pair",
            target=f"person:{pair.first} person:{pair.second} score:{pair.score:.4f} "
            f"model:{model_id}"[:200],
            occurred_at=at,
            source_address=source_address,
        )
        for person_id in (pair.first, pair.second):
            person = session.get(Person, person_id)
            if person is None or person.erased_at is not None:
                continue
            if set_two_factor(session, person_id, True, "confusable"):
                changed.append(person_id)
                append_audit(
                    session,
                    actor=actor,
                    action="set_two_factor",
                    target=f"person:{person_id} source:confusable",
                    occurred_at=at,
                    source_address=source_address,
                )
    return changed


def last_check(session: Session) -> ConfusableCheck | None:
    return session.scalars(
        select(ConfusableCheck).order_by(ConfusableCheck.id.desc()).limit(1)
    ).one_or_none()


def check_is_due(session: Session, model_id: str, threshold: float) -> bool:
    """True when no check ran yet for this model and threshold (a change of either)."""
    last = last_check(session)
    return last is None or last.model_id != model_id or abs(last.threshold - threshold) > 1e-9


def check_residents(
    store: Store,
    *,
    model_id: str,
    dimension: int,
    rule: DecisionRule,
    at: datetime,
    trigger: str,
    only_if_due: bool = False,
) -> ConfusableReport | None:
    """Check every resident the door would recognise now; mark confusable pairs two-factor.

    With `only_if_due` (start-up) nothing runs when the last check used the same model and
    threshold. Returns None when skipped."""
    with store.sessions.reading() as session:
        load = load_gallery_rows(session, store.cipher, model_id, dimension, at)
        people = len({row.person_id for row in load.rows})
        threshold = confusable_threshold(rule, people)
        if only_if_due and not check_is_due(session, model_id, threshold):
            return None
    report = ConfusableReport(model_id, threshold, people, find_pairs(load.rows, threshold))
    with store.sessions.writing() as session:
        report.newly_two_factor = mark_confusable(
            session, report.pairs, actor=SYSTEM_ACTOR, at=at, model_id=model_id
        )
        session.add(
            ConfusableCheck(
                model_id=model_id,
                threshold=threshold,
                people=people,
                pairs=len(report.pairs),
                trigger=trigger,
                checked_at=at,
            )
        )
    for pair in report.pairs:
        LOG.warning(
            "confusable faces: person %d and person %d score %.4f >= %.4f (%s): both need a "
            "second credential",
            pair.first,
            pair.second,
            pair.score,
            threshold,
            model_id,
        )
    LOG.info(
        "confusable check (%s): %d people, %d pairs, %d newly two-factor, threshold %.4f",
        trigger,
        people,
        len(report.pairs),
        len(report.newly_two_factor),
        threshold,
    )
    return report


def scores_by_person(rows: Sequence[GalleryRow], vector: npt.ArrayLike) -> dict[int, float]:
    """Best cosine of one face against each person's templates (enrolment's check)."""
    if not rows:
        return {}
    matrix = _unit_rows([row.vector for row in rows])
    probe = _unit_rows([vector])[0]
    scores = matrix @ probe
    best: dict[int, float] = {}
    for row, score in zip(rows, scores.tolist(), strict=True):
        if score > best.get(row.person_id, -2.0):
            best[row.person_id] = float(score)
    return best
