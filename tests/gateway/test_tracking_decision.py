"""The IoU tracker and the visit decision rule: unknown by default, grants only when the fused live
frames of a track match one person, no frame matches another and none matching fails liveness."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.vision.decision import DecisionRule, FrameEvidence, Verdict, decide
from gateway.vision.tracking import IoUTracker, iou

RULE = DecisionRule(similarity_threshold=0.93, min_margin=0.02, window=5, agree=3)


def _ev(
    identity: str | None = "alice",
    score: float = 0.96,
    margin: float = 0.05,
    live: bool | None = True,
) -> FrameEvidence:
    return FrameEvidence(identity, score, margin, live)


def _fused(
    identity: str = "alice", score: float = 0.96, margin: float = 0.05, frames: int = 3
) -> FrameEvidence:
    """The gallery's answer for a track's fused live frames."""
    return FrameEvidence(identity, score, margin, True, frames=frames)


evidence = st.builds(
    FrameEvidence,
    identity=st.sampled_from([None, "alice", "bob"]),
    score=st.floats(-1, 1),
    margin=st.floats(0, 2),
    live=st.sampled_from([None, True, False]),
)
fused_answers = st.one_of(
    st.none(),
    st.builds(
        FrameEvidence,
        identity=st.sampled_from(["alice", "bob"]),
        score=st.floats(-1, 1),
        margin=st.floats(0, 2),
        live=st.just(True),
        frames=st.integers(1, 5),
    ),
)


def test_no_evidence_is_unknown() -> None:
    assert decide([], RULE, None).verdict is Verdict.UNKNOWN


def test_k_live_agreeing_frames_grant() -> None:
    assert decide([_ev(), _ev()], RULE, _fused(frames=2)).verdict is Verdict.PENDING
    decision = decide([_ev(), _ev(), _ev()], RULE, _fused())
    assert decision.verdict is Verdict.GRANT and decision.identity == "alice"
    # K frames matching on their own grant even when their mean falls short.
    assert decide([_ev()] * 3, RULE, _fused(score=0.5)).verdict is Verdict.GRANT


def test_a_visit_grants_on_its_fused_frames_when_no_single_frame_is_enough() -> None:
    frames = [_ev(score=0.90)] * 3
    assert decide(frames, RULE, _fused(score=0.95)).verdict is Verdict.GRANT
    assert decide(frames, RULE, _fused(score=0.92)).verdict is Verdict.UNKNOWN
    assert decide(frames[:2], RULE, _fused(score=0.95, frames=2)).verdict is Verdict.PENDING


def test_below_threshold_or_margin_never_grants() -> None:
    assert decide([_ev(score=0.92)] * 5, RULE, _fused(score=0.92)).verdict is Verdict.UNKNOWN
    assert decide([_ev(margin=0.01)] * 5, RULE, _fused(margin=0.01)).verdict is Verdict.UNKNOWN


def test_liveness_failure_on_a_match_is_a_spoof_not_a_grant() -> None:
    decision = decide([_ev(), _ev(), _ev(), _ev(live=False)], RULE, _fused())
    assert decision.verdict is Verdict.SPOOF_SUSPECTED and decision.identity == "alice"


def test_unmeasured_liveness_never_grants() -> None:
    # No live frame: nothing is fused.
    assert decide([_ev(live=None)] * 5, RULE, None).verdict is Verdict.PENDING


def test_two_residents_in_one_window_conflict() -> None:
    history = [_ev(), _ev(), _ev(identity="bob"), _ev()]
    assert decide(history, RULE, _fused()).verdict is Verdict.CONFLICT
    # The fused frames naming someone other than a matching frame is a conflict too.
    assert decide([_ev()] * 3, RULE, _fused(identity="bob")).verdict is Verdict.CONFLICT


def test_only_the_window_counts() -> None:
    old_grant = [_ev()] * 3
    recent_strangers = [_ev(identity=None, score=-1)] * 5
    assert decide(old_grant + recent_strangers, RULE, None).verdict is Verdict.UNKNOWN


def test_rule_validates_itself() -> None:
    with pytest.raises(ValueError):
        DecisionRule(0.9, 0.0, window=2, agree=3)
    with pytest.raises(ValueError):
        DecisionRule(float("nan"), 0.0, window=5, agree=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(evidence, max_size=12), fused_answers)
def test_grant_implies_k_live_agreeing_or_fused_frames_and_no_objection(
    history: list[FrameEvidence], fused: FrameEvidence | None
) -> None:
    decision = decide(history, RULE, fused)
    window = history[-RULE.window :]
    if decision.verdict is Verdict.GRANT:
        agreeing = [
            e
            for e in window
            if RULE.is_match(e) and e.live is True and e.identity == decision.identity
        ]
        fused_agrees = (
            fused is not None
            and RULE.is_match(fused)
            and fused.frames >= RULE.agree
            and fused.identity == decision.identity
        )
        assert len(agreeing) >= RULE.agree or fused_agrees
        assert all(e.identity == decision.identity for e in window if RULE.is_match(e))
        assert not any(e.live is False for e in window if RULE.is_match(e))
    if not any(RULE.is_match(e) for e in window) and not (fused and RULE.is_match(fused)):
        assert decision.verdict is Verdict.UNKNOWN


def test_iou_basics() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_tracker_follows_a_moving_face_and_ends_lost_tracks() -> None:
    tracker = IoUTracker(iou_threshold=0.3, max_missed_frames=2)
    [first], _ = tracker.update([(100, 100, 50, 50)])
    [same], _ = tracker.update([(105, 102, 50, 50)])
    assert same.track_id == first.track_id
    [other], _ = tracker.update([(400, 100, 50, 50)])
    assert other.track_id != first.track_id
    ended_ids: set[int] = set()
    for _ in range(3):
        _, ended = tracker.update([])
        ended_ids |= {t.track_id for t in ended}
    assert {first.track_id, other.track_id} <= ended_ids
    [again], _ = tracker.update([(105, 102, 50, 50)])
    assert again.track_id not in ended_ids  # a returning face starts fresh: no carried evidence
    assert len(again.history) == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.floats(0, 600), st.floats(0, 400), st.floats(1, 200), st.floats(1, 200)),
            max_size=4,
        ),
        max_size=15,
    )
)
def test_tracker_never_assigns_one_track_to_two_faces(frames: list[list[tuple]]) -> None:
    tracker = IoUTracker()
    for boxes in frames:
        tracks, _ = tracker.update(boxes)
        assert len(tracks) == len(boxes)
        assert len({t.track_id for t in tracks}) == len(tracks)


def test_small_gallery_uses_the_stricter_threshold() -> None:
    rule = DecisionRule(
        0.93, 0.02, window=5, agree=3, small_gallery_threshold=0.955, small_gallery_identities=20
    )
    lone = FrameEvidence("alice", 0.95, 2.0, live=True, competitors=0)
    crowded = FrameEvidence("alice", 0.95, 0.05, live=True, competitors=25)
    assert decide([lone] * 3, rule, lone).verdict is Verdict.UNKNOWN
    assert decide([crowded] * 3, rule, replace(crowded, frames=3)).verdict is Verdict.GRANT
    assert rule.threshold_for(19) == 0.955 and rule.threshold_for(20) == 0.93


def test_a_threshold_of_one_grants_nobody_even_an_exact_copy_of_a_template() -> None:
    """A face-off pack (threshold 1.000) never matches, though float rounding can put a vector's
    cosine with itself above 1; just below it, the same score matches."""
    off = DecisionRule(similarity_threshold=1.0, min_margin=0.0, window=5, agree=3)
    copy = [FrameEvidence("alice", 1.0000001, 1.0, True, competitors=50)] * 5
    assert not off.is_match(copy[0])
    assert decide(copy, off, copy[0]).verdict is Verdict.UNKNOWN
    near_one = replace(off, similarity_threshold=0.9999)
    assert near_one.is_match(copy[0])
    assert decide(copy, near_one, None).verdict is Verdict.GRANT
