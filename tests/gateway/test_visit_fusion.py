"""Visit fusion through `judge_track` with a real gallery: the live frames of one face in a track
are averaged and searched once; frames failing liveness or without a face add nothing, and frames
of two different faces are never fused."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from gateway.gallery import Gallery
from gateway.vision.decision import DecisionRule, FrameEvidence, Verdict
from gateway.vision.recogniser import frame_evidence, judge_track
from gateway.vision.tracking import Track
from gateway.vision.visit_fusion import fuse, fused_evidence

RULE = DecisionRule(similarity_threshold=0.9, min_margin=0.02, window=5, agree=3)
MODEL = "test-model"


def _unit(*values: float) -> np.ndarray:
    vector = np.zeros(6, np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def _alice_frame(index: int) -> np.ndarray:
    """One of three frames of Alice's face: 0.88 against her template (below 0.9), 0.91 against
    each other, and their mean 0.908 against her template."""
    spread = np.zeros(6, np.float32)
    spread[1], spread[2 + index] = np.sqrt(0.6), np.sqrt(0.4)
    return 0.88 * _unit(1) + np.sqrt(1 - 0.88**2) * spread


@pytest.fixture()
def gallery() -> Gallery:
    residents = Gallery(MODEL, 6)
    residents.add("alice", _unit(1), MODEL)
    residents.add("bob", _unit(0, 0, 0, 0, 0, 1), MODEL)
    return residents


def _frame(gallery: Gallery, vector: np.ndarray | None, live: bool | None) -> FrameEvidence:
    match = gallery.search(vector) if vector is not None else None
    return frame_evidence(match, live, vector)


def _visit(gallery: Gallery, frames: list[tuple[np.ndarray | None, bool | None]]) -> list[Verdict]:
    track = Track(1, (0.0, 0.0, 0.0, 0.0), 0, 0, history=deque(maxlen=RULE.window))
    verdicts = []
    for vector, live in frames:
        track.history.append(_frame(gallery, vector, live))
        verdicts.append(judge_track(track, RULE, gallery.search)[0].verdict)
    return verdicts


def test_fuse_is_the_normalised_mean_and_refuses_nothing_to_fuse() -> None:
    fused = fuse([_unit(1, 1), _unit(1, -1)])
    assert fused is not None
    np.testing.assert_allclose(fused, _unit(1), atol=1e-6)
    assert fuse([]) is None
    assert fuse([_unit(1), -_unit(1)]) is None  # cancels out: no direction


def test_only_live_frames_with_a_face_are_fused(gallery: Gallery) -> None:
    history = [
        _frame(gallery, _unit(1, 1), True),
        _frame(gallery, _unit(0, 0, 0, 0, 0, 1), False),  # failed liveness: left out
        _frame(gallery, None, None),  # no usable face
        _frame(gallery, _unit(1, -1), True),
    ]
    fused = fused_evidence(history, RULE.window, gallery.search, consistency=0.0)
    assert fused is not None and fused.frames == 2
    assert fused.identity == "alice" and fused.score == pytest.approx(1.0, abs=1e-6)
    assert fused_evidence(history[1:3], RULE.window, gallery.search, 0.0) is None


def test_a_visit_of_frames_each_short_of_the_threshold_is_granted_on_their_mean(
    gallery: Gallery,
) -> None:
    frames = [(_alice_frame(i), True) for i in range(3)]
    assert all(0.87 < float(f @ _unit(1)) < 0.9 for f, _ in frames)
    # Two frames fuse to 0.900 already: pending until the third live frame.
    assert _visit(gallery, frames) == [Verdict.UNKNOWN, Verdict.PENDING, Verdict.GRANT]


def test_frames_of_two_different_faces_are_never_fused(gallery: Gallery) -> None:
    # Two faces at 0.707 against alice and 0 against each other: fused they would score 1.0.
    first, second = _unit(1, 1), _unit(1, -1)
    history = [_frame(gallery, first, True), _frame(gallery, second, True)]
    unguarded = fused_evidence(history, RULE.window, gallery.search, consistency=-1.0)
    assert unguarded is not None and unguarded.score == pytest.approx(1.0, abs=1e-6)
    guarded = fused_evidence(history, RULE.window, gallery.search, RULE.similarity_threshold)
    assert guarded is not None and guarded.frames == 1  # the newest face alone
    assert guarded.score == pytest.approx(0.7071, abs=1e-3)
    alternating = [(first, True), (second, True)] * 3
    assert Verdict.GRANT not in _visit(gallery, alternating)


def test_one_photo_held_up_is_judged_on_its_own_score(gallery: Gallery) -> None:
    photo = _unit(1, 0.6)  # 0.857 against alice: below the threshold however long it stays
    assert set(_visit(gallery, [(photo, True)] * 5)) == {Verdict.UNKNOWN}


def test_a_frame_matching_someone_else_stops_the_grant(gallery: Gallery) -> None:
    frames = [(_unit(1), True), (_unit(0, 0, 0, 0, 0, 1), True), (_unit(1), True)]
    assert _visit(gallery, frames)[-1] is Verdict.CONFLICT


def test_frames_failing_liveness_never_grant(gallery: Gallery) -> None:
    verdicts = _visit(gallery, [(_unit(1), False)] * 5)
    assert Verdict.GRANT not in verdicts and verdicts[-1] is Verdict.SPOOF_SUSPECTED


def test_the_fusion_agreement_defaults_to_the_threshold_and_is_a_cosine() -> None:
    assert RULE.agreement_threshold == RULE.similarity_threshold
    lower = DecisionRule(0.9, 0.02, 5, 3, fusion_agreement=0.5)
    assert lower.agreement_threshold == 0.5
    with pytest.raises(ValueError, match="fusion agreement"):
        DecisionRule(0.9, 0.02, 5, 3, fusion_agreement=1.5)


def _two_strangers() -> tuple[np.ndarray, np.ndarray]:
    """Two strangers' faces at 0.857 against alice each, 0.47 against each other: their mean is
    alice's template itself (1.0)."""
    return _unit(1, 0.6), _unit(1, -0.6)


def test_strangers_frames_below_the_fusion_agreement_are_never_fused(gallery: Gallery) -> None:
    first, second = _two_strangers()
    assert float(first @ second) == pytest.approx(0.4706, abs=1e-3)
    alternating = [(first, True), (second, True)] * 3
    # An agreement below the threshold (0.5 < 0.9) still keeps these two faces apart.
    rule = DecisionRule(0.9, 0.02, 5, 3, fusion_agreement=0.5)
    track = Track(1, (0.0, 0.0, 0.0, 0.0), 0, 0, history=deque(maxlen=rule.window))
    for vector, live in alternating:
        track.history.append(_frame(gallery, vector, live))
        decision, _ = judge_track(track, rule, gallery.search)
        assert decision.verdict is not Verdict.GRANT
    fused = fused_evidence(track.history, rule.window, gallery.search, rule.agreement_threshold)
    assert fused is not None and fused.frames == 3  # the newest face's three frames
    assert fused.score == pytest.approx(0.857, abs=1e-3)


def test_an_agreement_too_low_would_fuse_two_strangers_into_a_resident(gallery: Gallery) -> None:
    # Why the agreement is calibrated (mixed strangers' visits, gateway.eval.impostors): at 0.4
    # these two faces agree, and their fused frames are alice.
    first, second = _two_strangers()
    rule = DecisionRule(0.9, 0.02, 5, 3, fusion_agreement=0.4)
    track = Track(1, (0.0, 0.0, 0.0, 0.0), 0, 0, history=deque(maxlen=rule.window))
    verdicts = []
    for vector in (first, second, first):
        track.history.append(_frame(gallery, vector, True))
        verdicts.append(judge_track(track, rule, gallery.search)[0].verdict)
    assert verdicts[-1] is Verdict.GRANT
