"""Visit fusion: the live frames of one track, fused into one embedding and searched once.

A person at the door gives several different frames (pose, light, expression); each alone may fall
short of the threshold while their mean lies close to the person's templates. The fused embedding
is the L2-normalised mean of the embeddings of the live frames among the track's last `window`
frames (frames without a usable face or without passed liveness are left out, so a photo that fails
liveness adds nothing).

Only frames of one face are fused. Normalising a mean lifts it: two *different* strangers scoring
0.5 each against a resident would fuse to about 0.67. A tracker can hand one track from a person to
the next who steps into the same place, so the fused frames are the newest live frame and every
earlier one that scores at least `consistency` (the rule's agreement threshold) against each frame
already chosen. By default that is the resident threshold; a pack may calibrate a lower agreement
(`fusion_agreement` in the manifest): the highest fused visit made of ANY strangers' frames that
agree at it, none of them the resident, stays at or below one stranger's own best visit
(`menwei eval calibrate`, `gateway.eval.impostors`), so tracks mixing people lift nothing.
The runtime (`gateway.vision.recogniser.judge_track`)
and every eval replay use this one function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gateway.gallery import Match
from gateway.vision.decision import FrameEvidence
from gateway.vision.embedder import Vector

Search = Callable[[Vector], Match | None]


def fuse(embeddings: Sequence[Vector]) -> Vector | None:
    """The L2-normalised mean of `embeddings` (None when there are none or they cancel out)."""
    if not embeddings:
        return None
    mean = np.mean(np.stack([np.asarray(e, np.float32) for e in embeddings]), axis=0)
    norm = float(np.linalg.norm(mean))
    if not np.isfinite(norm) or norm < 1e-6:
        return None
    fused: Vector = (mean / norm).astype(np.float32)
    return fused


def live_embeddings(history: Sequence[FrameEvidence], window: int) -> list[Vector]:
    """Embeddings of the live frames among the last `window` frames, newest first."""
    return [
        e.embedding
        for e in reversed(list(history)[-window:])
        if e.live is True and e.embedding is not None
    ]


def one_face(embeddings: Sequence[Vector], consistency: float) -> list[Vector]:
    """The first embedding and every later one scoring >= `consistency` with each one kept."""
    kept: list[Vector] = []
    for vector in embeddings:
        if all(float(np.dot(vector, other)) >= consistency for other in kept):
            kept.append(vector)
    return kept


def fused_evidence(
    history: Sequence[FrameEvidence], window: int, search: Search, consistency: float
) -> FrameEvidence | None:
    """The gallery's answer for the fused live frames of one face in the window (None: nothing
    to fuse)."""
    embeddings = one_face(live_embeddings(history, window), consistency)
    vector = fuse(embeddings)
    if vector is None:
        return None
    match = search(vector)
    if match is None:
        return None
    return FrameEvidence(
        identity=match.identity,
        score=match.score,
        margin=match.margin,
        live=True,
        competitors=match.competitors,
        embedding=vector,
        frames=len(embeddings),
    )
