"""The confusable-faces rule and check on synthetic templates: the door's threshold with its
margin, pairs found exactly (against a brute-force reference), both people set to two factors,
audited, and the start-up check re-running only when the model or threshold changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from gateway.access.confusable import (
    ConfusablePair,
    check_residents,
    confusable_threshold,
    find_pairs,
    scores_by_person,
)
from gateway.store.base import Role
from gateway.store.credentials import add_card, record_consent, store_face_template
from gateway.store.gallery_load import GalleryRow
from gateway.store.people import add_person
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Person
from gateway.store.store import Store
from gateway.vision.decision import DecisionRule
from tests.sqlite_store import sqlite_store_in
from tests.store.conftest import T0, World, build_world

MODEL, DIM = "synthetic-8d", 8
OTHER_MODEL = "synthetic-8d-v2"
RULE = DecisionRule(
    similarity_threshold=0.90,
    min_margin=0.02,
    window=5,
    agree=3,
    small_gallery_threshold=0.95,
    small_gallery_identities=4,
)


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(base: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """A unit vector at exactly `cosine` from `base`."""
    other = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    other -= other.dot(base) * base
    other /= np.linalg.norm(other)
    return np.asarray(cosine * base + np.sqrt(1 - cosine**2) * other, np.float32)


def test_the_threshold_is_the_doors_with_its_margin() -> None:
    assert confusable_threshold(RULE, 3) == pytest.approx(0.95 - 0.02)  # small gallery
    assert confusable_threshold(RULE, 5) == pytest.approx(0.90 - 0.02)  # 4 competitors


def test_pairs_match_a_brute_force_reference() -> None:
    rng = np.random.default_rng(0)
    base = unit(1)
    rows = [
        GalleryRow(person, MODEL, near(base, float(rng.uniform(0.8, 1.0)), 100 + i))
        for i, person in enumerate(rng.integers(1, 12, size=60).tolist())
    ]
    threshold = 0.93
    expected = set()
    for a in rows:
        for b in rows:
            if a.person_id < b.person_id and float(a.vector @ b.vector) >= threshold:
                expected.add((a.person_id, b.person_id))
    found = find_pairs(rows, threshold)
    assert {(p.first, p.second) for p in found} == expected and expected
    for pair in found:
        best = max(
            float(a.vector @ b.vector)
            for a in rows
            for b in rows
            if (a.person_id, b.person_id) == (pair.first, pair.second)
        )
        assert pair.score == pytest.approx(best, abs=1e-5)
    assert scores_by_person(rows, base)  # one score per person
    assert find_pairs([], 0.5) == []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store_in(tmp_path) as opened:
        yield opened


def _enrol(store: Store, world: World, name: str, vectors: list[np.ndarray], card: int) -> int:
    with store.sessions.writing() as session:
        person = add_person(
            session,
            external_id=name,
            display_name=None,
            role=Role.OWNER,
            unit_id=world.unit_id,
            valid_from=T0 - timedelta(days=1),
        )
        add_card(session, person.id, 1, card)
        record_consent(session, person.id, text_version="v", taken_by="t", taken_at=T0)
        for vector in vectors:
            store_face_template(session, store.cipher, person.id, vector, MODEL)
        return person.id


def test_check_sets_both_people_of_a_pair_to_two_factors_and_audits(store: Store) -> None:
    world = build_world(store)
    base = unit(7)
    twin_a = _enrol(store, world, "twin-a", [base, near(base, 0.97, 2)], 101)
    twin_b = _enrol(store, world, "twin-b", [near(base, 0.94, 3)], 102)
    other = _enrol(store, world, "other", [unit(99)], 103)
    report = check_residents(store, model_id=MODEL, dimension=DIM, rule=RULE, at=T0, trigger="test")
    assert report is not None and report.people == 3
    assert report.threshold == pytest.approx(0.93)  # 3 people: the small-gallery threshold
    assert [(p.first, p.second) for p in report.pairs] == [(twin_a, twin_b)]
    assert report.pairs[0].score >= 0.94 - 1e-5  # at least twin-b against twin-a's base
    assert sorted(report.newly_two_factor) == [twin_a, twin_b]
    with store.sessions.reading() as session:
        flags = {p.id: (p.two_factor, p.two_factor_source) for p in session.scalars(select(Person))}
        audit = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert flags[twin_a] == flags[twin_b] == (True, "confusable")
    assert flags[other] == (False, None)
    assert audit == ["confusable_pair", "set_two_factor", "set_two_factor"]
    # start-up: same model and threshold, nothing to do; another model: it runs again
    again = check_residents(
        store, model_id=MODEL, dimension=DIM, rule=RULE, at=T0, trigger="start-up", only_if_due=True
    )
    assert again is None
    stricter = DecisionRule(0.99, 0.02, 5, 3)
    rerun = check_residents(
        store,
        model_id=MODEL,
        dimension=DIM,
        rule=stricter,
        at=T0,
        trigger="start-up",
        only_if_due=True,
    )
    assert rerun is not None and rerun.pairs == [] and rerun.newly_two_factor == []


def test_the_start_up_check_runs_again_after_a_model_change(store: Store) -> None:
    """Same threshold, another model: the twins' templates of the new model are checked anew (a
    new embedder may put two people closer than the old one did)."""
    world = build_world(store)
    base = unit(11)
    first = _enrol(store, world, "one", [unit(12)], 201)
    second = _enrol(store, world, "two", [unit(13)], 202)
    done = check_residents(store, model_id=MODEL, dimension=DIM, rule=RULE, at=T0, trigger="t")
    assert done is not None and done.pairs == []
    with store.sessions.writing() as session:  # re-enrolled under the new model: now alike
        store_face_template(session, store.cipher, first, base, OTHER_MODEL)
        store_face_template(session, store.cipher, second, near(base, 0.97, 6), OTHER_MODEL)
    same_model = check_residents(
        store, model_id=MODEL, dimension=DIM, rule=RULE, at=T0, trigger="start-up", only_if_due=True
    )
    assert same_model is None  # nothing changed for the old model
    new_model = check_residents(
        store,
        model_id=OTHER_MODEL,
        dimension=DIM,
        rule=RULE,
        at=T0,
        trigger="start-up",
        only_if_due=True,
    )
    assert new_model is not None
    assert [(p.first, p.second) for p in new_model.pairs] == [(first, second)]
    assert sorted(new_model.newly_two_factor) == [first, second]


def test_pair_ordering_is_by_score() -> None:
    base = unit(3)
    rows = [
        GalleryRow(1, MODEL, base),
        GalleryRow(2, MODEL, near(base, 0.99, 4)),
        GalleryRow(3, MODEL, near(base, 0.96, 5)),
    ]
    pairs = find_pairs(rows, 0.9)
    assert pairs[0] == ConfusablePair(1, 2, pytest.approx(0.99, abs=1e-5))  # type: ignore[arg-type]
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
