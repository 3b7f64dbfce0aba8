"""Per-visit replay: visits are built from different images, never templates, and are judged
frame by frame by the runtime's own track decision (K of N or the fused live frames, margin,
small gallery, one grant)."""

from __future__ import annotations

import numpy as np

from gateway.eval.datasets import LabelledImage
from gateway.eval.visits import (
    PER_IMAGE,
    PER_VISIT,
    FrameSearch,
    Visit,
    multi_image_visits,
    replay,
    replay_visit,
)
from gateway.gallery import Gallery
from gateway.vision.decision import DecisionRule, Verdict

RULE = DecisionRule(similarity_threshold=0.8, min_margin=0.02, window=5, agree=3)


def _vector(cos_ann: float, cos_bob: float = 0.0) -> np.ndarray:
    """Unit vector with cosine `cos_ann` to Ann and `cos_bob` to Bob (the rest off both)."""
    rest = np.sqrt(1.0 - cos_ann**2 - cos_bob**2)
    return np.asarray([cos_ann, cos_bob, rest], np.float32)


def _gallery() -> Gallery:
    gallery = Gallery("m", 3)
    gallery.add("Ann", [1.0, 0.0, 0.0], "m")
    gallery.add("Bob", [0.0, 1.0, 0.0], "m")
    return gallery


def test_visits_rotate_through_different_images_of_one_person() -> None:
    probes = [LabelledImage(f"a/{i}.jpg", "Ann") for i in range(4)]
    probes.append(LabelledImage("b/0.jpg", "Bob"))
    visits = multi_image_visits(probes, True, 3)
    assert len(visits) == 5  # one visit per probe image
    ann = [v for v in visits if v.truth == "Ann"]
    assert ann[0].frames == ("a/0.jpg", "a/1.jpg", "a/2.jpg")
    assert ann[3].frames == ("a/3.jpg", "a/0.jpg", "a/1.jpg")  # wraps round
    assert all(len(set(v.frames)) == 3 for v in ann)
    [bob] = [v for v in visits if v.truth == "Bob"]
    assert bob.frames == ("b/0.jpg",) * 3  # one image: repeated
    assert all(frame.startswith(v.truth[0].lower()) for v in visits for frame in v.frames)


def test_a_visit_needs_k_agreeing_or_fused_frames() -> None:
    search = FrameSearch(
        _gallery(),
        {"hi1": _vector(0.95), "hi2": _vector(0.9), "hi3": _vector(0.85), "lo": _vector(0.5)},
    )
    # Two good frames among three poor ones: their mean stays below 0.8, two frames are not K.
    two = replay_visit(Visit("Ann", True, ("hi1", "lo", "lo", "hi2", "lo")), search, RULE)
    assert two.granted_to is None and two.verdict is Verdict.PENDING
    # The poor frame scores 0.745 with hi1, below the 0.8 that would make them one face: it is
    # not fused with them, and two fused frames are not K (fusion itself: test_visit_fusion.py).
    fused = replay_visit(Visit("Ann", True, ("hi1", "lo", "hi2")), search, RULE)
    assert fused.granted_to is None and fused.verdict is Verdict.PENDING
    three = replay_visit(Visit("Ann", True, ("hi1", "lo", "hi2", "lo", "hi3")), search, RULE)
    assert three.granted_to == "Ann" and three.true_grant and not three.false_grant
    stranger = replay_visit(Visit("Eve", False, ("hi1", "hi2", "hi3")), search, RULE)
    assert stranger.false_grant and stranger.best_score >= 0.95 - 1e-6


def test_frames_without_a_face_add_nothing_and_a_conflict_never_grants() -> None:
    search = FrameSearch(_gallery(), {"ann": _vector(0.95), "bob": _vector(0.2, 0.95)})
    faceless = replay_visit(Visit("Ann", True, ("ann", "none", "none", "ann")), search, RULE)
    assert faceless.granted_to is None  # two real frames: below K = 3
    mixed = replay_visit(Visit("Ann", True, ("ann", "bob", "ann", "ann")), search, RULE)
    assert mixed.verdict is Verdict.CONFLICT and mixed.granted_to is None


def test_the_small_gallery_threshold_applies_with_few_competitors() -> None:
    strict = DecisionRule(0.8, 0.02, 5, 3, small_gallery_threshold=0.9, small_gallery_identities=5)
    search = FrameSearch(_gallery(), {"p": _vector(0.85)})
    visit = Visit("Eve", False, ("p",) * 5)
    assert replay_visit(visit, search, RULE).false_grant
    assert not replay_visit(visit, search, strict).false_grant


def test_replay_reports_both_modes_with_their_counts() -> None:
    vectors = {f"a{i}": _vector(0.95 if i < 3 else 0.3) for i in range(5)}
    vectors |= {"e0": _vector(0.85), "e1": _vector(0.3), "e2": _vector(0.3)}
    mated = [LabelledImage(f"a{i}", "Ann") for i in range(5)]
    non_mated = [LabelledImage(f"e{i}", "Eve") for i in range(3)]
    search = FrameSearch(_gallery(), vectors)
    per_image = replay(PER_IMAGE, 3, mated, non_mated, search, RULE).to_json()
    per_visit = replay(PER_VISIT, 5, mated, non_mated, search, RULE).to_json()
    assert per_image["mated_tracks"] == per_visit["mated_tracks"] == 5
    assert per_image["non_mated_tracks"] == per_visit["non_mated_tracks"] == 3
    assert per_image["residents_missed"] == 2  # the two low images alone
    assert per_visit["residents_missed"] == 0  # every visit holds the three good images
    assert per_image["false_grants_to_strangers"] == 1  # e0 held up three times
    assert per_visit["false_grants_to_strangers"] == 0  # e0 is in at most 2 of 5 frames
    assert per_visit["mean_distinct_images_per_track"] == (5 * 5 + 3 * 3) / 8
