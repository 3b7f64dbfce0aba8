"""The track-level decision rule: who is this track, and may the door open for them?

"Unknown" is the default. A visit gives several different frames of one face; the rule decides on
each frame and on all of them together. Each frame is searched on its own, and the live frames of
one face among the last N (frames that recognise each other at the threshold) are fused into one
embedding (their L2-normalised mean, `gateway.vision.visit_fusion`) and searched too. A grant needs
one enrolled person (score >= threshold, margin >= min margin) named either by K live frames on
their own or by the fused search of at least K live frames (frames are fused only when they agree
with each other at the rule's `agreement_threshold`). No frame in the window may match a
*different* person (a conflict), and a frame that matches while failing liveness makes the track a
suspected spoof, never a grant. One photo held up for K frames fuses to itself, so per image the
rule is the single-image threshold; the calibration (`menwei eval calibrate`) puts the threshold
above the impostors of both paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.vision.embedder import Vector

# A threshold at the top of the cosine scale means "grant nobody by face" (a pack with no threshold
# that keeps its strangers out with a margin ships it). Float rounding can put a vector's cosine
# with itself at 1.0000001, so `score >= 1.0` alone would let an exact copy of a template through.
FACE_OFF = 1.0


def reaches(score: float, threshold: float) -> bool:
    """The score meets the threshold; never for a threshold of FACE_OFF or above."""
    return threshold < FACE_OFF and score >= threshold


class Verdict(StrEnum):
    GRANT = "grant"  # K-of-N agreement on one live resident
    PENDING = "pending"  # evidence for a resident is building up, not enough yet
    UNKNOWN = "unknown"  # default: nobody enrolled, or not sure enough
    CONFLICT = "conflict"  # frames in the window match different residents
    SPOOF_SUSPECTED = "spoof_suspected"  # matches a resident but liveness fails


@dataclass(frozen=True)
class FrameEvidence:
    """What one frame said about one track's face.

    identity/score/margin: top-1 gallery match (identity None when nothing was searched);
    live: liveness passed (True), failed (False) or not measured (None; never enough to grant);
    embedding: the frame's L2-normalised face embedding (None without a usable face), which the
    visit fusion averages; frames: how many frames stand behind this evidence (1 for a frame, the
    fused count for the visit's fused search).
    """

    identity: str | None
    score: float
    margin: float
    live: bool | None
    competitors: int = 0  # other enrolled identities the margin was measured against
    embedding: Vector | None = field(default=None, compare=False, repr=False)
    frames: int = 1


@dataclass(frozen=True)
class DecisionRule:
    """Thresholds and the K-of-N window; built from config and the calibrated model thresholds."""

    similarity_threshold: float
    min_margin: float
    window: int
    agree: int
    # With few other enrolled identities the margin test has little to compare against, so the
    # stricter threshold applies until the gallery holds `small_gallery_identities` others.
    small_gallery_threshold: float = 0.0
    small_gallery_identities: int = 0
    # Frames are fused only if they score at least this with each other (NaN: the resident
    # threshold). A pack may calibrate a lower value: one below which no visit made of ANY
    # strangers' frames that agree at it scores higher than one stranger's own visits do.
    fusion_agreement: float = math.nan

    def __post_init__(self) -> None:
        if not 1 <= self.agree <= self.window:
            raise ValueError("need 1 <= agree <= window")
        if math.isnan(self.similarity_threshold):
            raise ValueError("similarity threshold is not calibrated")
        if not math.isnan(self.fusion_agreement) and not -1.0 <= self.fusion_agreement <= 1.0:
            raise ValueError("fusion agreement must be a cosine in [-1, 1] (or NaN: the threshold)")

    @property
    def agreement_threshold(self) -> float:
        """The score two frames need with each other to be fused into one visit."""
        if math.isnan(self.fusion_agreement):
            return self.similarity_threshold
        return self.fusion_agreement

    def threshold_for(self, competitors: int) -> float:
        """The resident threshold, or the stricter one while the gallery has few identities."""
        if competitors < self.small_gallery_identities:
            return max(self.similarity_threshold, self.small_gallery_threshold)
        return self.similarity_threshold

    def is_match_score(self, score: float, margin: float, competitors: int) -> bool:
        return reaches(score, self.threshold_for(competitors)) and margin >= self.min_margin

    def is_match(self, evidence: FrameEvidence) -> bool:
        return evidence.identity is not None and self.is_match_score(
            evidence.score, evidence.margin, evidence.competitors
        )


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    identity: str | None = None
    agreeing_frames: int = 0
    best_score: float = -1.0
    reason: str = ""


def decide(
    history: Sequence[FrameEvidence], rule: DecisionRule, fused: FrameEvidence | None
) -> Decision:
    """Apply the rule to a track's per-frame evidence (oldest first; only the last `window` frames
    count) and to the fused search of its live frames (None: no live face to fuse)."""
    window = list(history)[-rule.window :]
    matches = [e for e in window if rule.is_match(e)]
    fused_match = fused is not None and rule.is_match(fused)
    identities = {e.identity for e in matches}
    if fused is not None and fused_match:
        identities.add(fused.identity)
    if not identities:
        return Decision(Verdict.UNKNOWN, reason="no frame matches an enrolled person")
    if len(identities) > 1:
        return Decision(Verdict.CONFLICT, reason=f"frames match {len(identities)} people")
    identity = identities.pop()
    best = max([e.score for e in matches] + ([fused.score] if fused is not None else []))
    if any(e.live is False for e in matches):
        return Decision(
            Verdict.SPOOF_SUSPECTED,
            identity,
            len(matches),
            best,
            "liveness failed on a frame matching this person",
        )
    live_matches = sum(e.live is True for e in matches)
    fused_frames = fused.frames if fused is not None and fused_match else 0
    agreeing = max(live_matches, fused_frames)
    if agreeing >= rule.agree:
        how = "frames agree" if live_matches >= rule.agree else "live frames fused match"
        return Decision(
            Verdict.GRANT, identity, agreeing, best, f"{agreeing} of the last {len(window)} {how}"
        )
    return Decision(
        Verdict.PENDING,
        identity,
        agreeing,
        best,
        f"{agreeing} of {rule.agree} agreeing live frames so far",
    )
