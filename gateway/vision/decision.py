"""The track-level decision rule: who is this track, and may the door open for them?

"Unknown" is the default. A grant needs K of the last N frames of one track to agree on the same
enrolled person (score >= threshold, margin >= min margin) with liveness passed on each of those
frames, and no frame in the window may match a *different* person or fail liveness while matching.
A resident match that fails liveness is reported as a suspected spoof, never as a grant.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


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
    live: liveness passed (True), failed (False) or not measured (None; never enough to grant).
    """

    identity: str | None
    score: float
    margin: float
    live: bool | None
    competitors: int = 0  # other enrolled identities the margin was measured against


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

    def __post_init__(self) -> None:
        if not 1 <= self.agree <= self.window:
            raise ValueError("need 1 <= agree <= window")
        if math.isnan(self.similarity_threshold):
            raise ValueError("similarity threshold is not calibrated")

    def threshold_for(self, competitors: int) -> float:
        """The resident threshold, or the stricter one while the gallery has few identities."""
        if competitors < self.small_gallery_identities:
            return max(self.similarity_threshold, self.small_gallery_threshold)
        return self.similarity_threshold

    def is_match_score(self, score: float, margin: float, competitors: int) -> bool:
        return score >= self.threshold_for(competitors) and margin >= self.min_margin

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


def decide(history: Sequence[FrameEvidence], rule: DecisionRule) -> Decision:
    """Apply the rule to a track's evidence (oldest first); only the last `window` frames count."""
    window = list(history)[-rule.window :]
    matches = [e for e in window if rule.is_match(e)]
    if not matches:
        return Decision(Verdict.UNKNOWN, reason="no frame matches an enrolled person")
    identities = Counter(e.identity for e in matches)
    if len(identities) > 1:
        return Decision(Verdict.CONFLICT, reason=f"frames match {len(identities)} people")
    identity = matches[0].identity
    best = max(e.score for e in matches)
    if any(e.live is False for e in matches):
        return Decision(
            Verdict.SPOOF_SUSPECTED,
            identity,
            len(matches),
            best,
            "liveness failed on a frame matching this person",
        )
    live_matches = [e for e in matches if e.live is True]
    if len(live_matches) >= rule.agree:
        return Decision(
            Verdict.GRANT,
            identity,
            len(live_matches),
            best,
            f"{len(live_matches)} of the last {len(window)} frames agree",
        )
    return Decision(
        Verdict.PENDING,
        identity,
        len(live_matches),
        best,
        f"{len(live_matches)} of {rule.agree} agreeing live frames so far",
    )
