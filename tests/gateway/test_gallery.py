"""Gallery search: top-1 with the margin to the best *other* identity; model ids are enforced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.gallery import Gallery, TemplateModelMismatch


def _unit(rng: np.random.Generator, dim: int = 128) -> np.ndarray:
    vector = rng.normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_empty_gallery_finds_nobody() -> None:
    assert Gallery("m", 128).search(np.ones(128, np.float32)) is None


def test_margin_ignores_the_same_persons_other_templates() -> None:
    rng = np.random.default_rng(1)
    gallery = Gallery("m", 128)
    alice = _unit(rng)
    gallery.add("alice", alice, "m")
    gallery.add("alice", alice * 0.9 + _unit(rng) * 0.1, "m")
    gallery.add("bob", _unit(rng), "m")
    match = gallery.search(alice)
    assert match is not None
    assert match.identity == "alice" and match.score == pytest.approx(1.0, abs=1e-5)
    assert match.second_identity == "bob"
    assert match.margin > 0.5


def test_single_identity_margin_is_against_nobody() -> None:
    gallery = Gallery("m", 4)
    gallery.add("alice", [1, 0, 0, 0], "m")
    match = gallery.search(np.array([1, 0, 0, 0], np.float32))
    assert match is not None and match.second_identity is None and match.margin == 2.0


def test_template_from_another_model_is_refused_loudly() -> None:
    gallery = Gallery("faceapi_face_recognition", 128)
    with pytest.raises(TemplateModelMismatch, match="sface"):
        gallery.add("alice", np.ones(128), "sface_2021dec")
    assert len(gallery) == 0


@pytest.mark.parametrize("bad", [np.zeros(128), np.full(128, np.nan), np.ones(64)])
def test_bad_templates_are_refused(bad: np.ndarray) -> None:
    gallery = Gallery("m", 128)
    with pytest.raises(ValueError):
        gallery.add("x", bad, "m")


def test_remove_really_removes() -> None:
    rng = np.random.default_rng(2)
    gallery = Gallery("m", 128)
    alice = _unit(rng)
    gallery.add("alice", alice, "m")
    gallery.add("bob", _unit(rng), "m")
    assert gallery.remove("alice") == 1
    match = gallery.search(alice)
    assert match is not None and match.identity == "bob"


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 4), st.integers(0, 10_000))
def test_top1_equals_brute_force(people: int, per_person: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    gallery = Gallery("m", 16)
    rows = []
    for person in range(people):
        for _ in range(per_person):
            vector = _unit(rng, 16)
            gallery.add(f"p{person}", vector, "m")
            rows.append((f"p{person}", vector))
    probe = _unit(rng, 16)
    best = {}
    for identity, vector in rows:
        best[identity] = max(best.get(identity, -2.0), float(vector @ probe))
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    match = gallery.search(probe)
    assert match is not None
    assert match.identity == ranked[0][0]
    assert match.score == pytest.approx(ranked[0][1], abs=1e-5)
    expected_second = ranked[1][1] if len(ranked) > 1 else -1.0
    assert match.margin == pytest.approx(ranked[0][1] - expected_second, abs=1e-5)
