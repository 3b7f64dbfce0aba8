"""Issue 10's targets, checked with the real models on the development sets a test can afford
(East-Asian, NUAA; LFW is measured by `menwei eval calibrate`, figures in
gateway/models/manifest.toml):

- every shipped pack: no impostor comparison, per image or per visit, reaches its calibrated
  thresholds (over every face, gate or not: stricter than the calibration, which counts only the
  faces the door judges), and the runtime's rule replayed as the door sees people (its quality
  gate, templates that enrolment accepts) grants no one falsely per image or per visit;
- mobilefacenet, 3 templates, per visit: issue 10 asks at most 5% of East-Asian residents turned
  away; at the threshold that keeps strangers out with the margin (frames fused when they agree
  at the pack's fusion agreement), 20 of 106 visits (18.9%) are, 4 of them never judged (no
  photo of the person passes the door's gate) (gateway/models/manifest.toml). The target is not
  met; this test keeps the measured level from getting worse and the default pack far behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from gateway.eval.calibrate import TEMPLATE_COUNTS, replay_set, visit_zero
from gateway.eval.context import EvalContext
from gateway.eval.devsets import DevSet
from gateway.eval.embeddings import EmbeddedImages
from gateway.eval.impostors import impostor_stats
from gateway.eval.visits import PER_IMAGE, PER_VISIT
from gateway.vision.factory import effective_thresholds

pytestmark = [pytest.mark.slow, pytest.mark.shared]

SHIPPED_PACKS = ("default", "mobilefacenet")
VISIT_FRAMES = 5
RESIDENTS_MISSED_MAX = 0.20  # measured 20/106 = 0.189 (issue 10's target: 0.05, not met)


@pytest.mark.parametrize("pack", SHIPPED_PACKS)
def test_no_impostor_reaches_the_calibrated_thresholds(
    pack: str,
    pack_context: Callable[[str], EvalContext],
    dev_sets: dict[str, DevSet],
    dev_embeddings: Callable[[str], EmbeddedImages],
) -> None:
    context = pack_context(pack)
    resident, watchlist = effective_thresholds(context.models, context.config.vision)
    small = context.models.small_gallery_threshold
    lowest = min(resident, watchlist, small)
    # Frames fuse when they agree at the pack's fusion agreement (else at the threshold).
    fusion = context.models.fusion_agreement
    agreement = lowest if math.isnan(fusion) else fusion
    agree = context.config.vision.tracker.agree
    window = context.config.vision.tracker.window
    vectors = dev_embeddings(pack).vectors
    for name, dev in dev_sets.items():
        stats = impostor_stats(
            dev.images, vectors, frames=VISIT_FRAMES, agree=agree, rounds=0, consistency=agreement
        )
        assert stats.image_comparisons >= 6000, name  # the zero stands on thousands of pairs
        assert stats.highest_image < lowest, (name, stats.top_images[:3])
        # Per visit: the best fused visit (one stranger's, or several strangers' frames that agree
        # with each other), or the bound for frames that agree at the fusion agreement.
        assert visit_zero(stats, agreement, window) < lowest, (name, stats.top_visits[:3])


@pytest.mark.parametrize("pack", SHIPPED_PACKS)
def test_the_runtime_rule_grants_no_stranger_per_image_or_per_visit(
    pack: str,
    pack_context: Callable[[str], EvalContext],
    dev_sets: dict[str, DevSet],
    dev_embeddings: Callable[[str], EmbeddedImages],
) -> None:
    context = pack_context(pack)
    resident, _ = effective_thresholds(context.models, context.config.vision)
    thresholds = (resident, context.models.small_gallery_threshold)
    for name, dev in dev_sets.items():
        replays = replay_set(context, dev, dev_embeddings(pack), thresholds, VISIT_FRAMES)
        assert {(t, f.mode) for t, f in replays} == {
            (t, mode) for t in TEMPLATE_COUNTS for mode in (PER_IMAGE, PER_VISIT)
        }
        for templates, figures in replays:
            data = figures.to_json()
            assert data["non_mated_tracks"] >= 80, (name, templates, figures.mode)
            assert data["false_grants"] == 0, (name, templates, data["false_grant_examples"])


def test_mobilefacenet_lets_east_asian_residents_in_per_visit(
    pack_context: Callable[[str], EvalContext],
    dev_sets: dict[str, DevSet],
    dev_embeddings: Callable[[str], EmbeddedImages],
) -> None:
    missed = {}
    for pack in SHIPPED_PACKS:
        context = pack_context(pack)
        resident, _ = effective_thresholds(context.models, context.config.vision)
        thresholds = (resident, context.models.small_gallery_threshold)
        replays = replay_set(context, dev_sets["eastasian"], dev_embeddings(pack), thresholds, 5)
        [per_visit] = [f for t, f in replays if t == 3 and f.mode == PER_VISIT]
        assert len(per_visit.mated) >= 100
        missed[pack] = per_visit.fnir
    assert missed["mobilefacenet"] <= RESIDENTS_MISSED_MAX, missed
    assert missed["default"] >= 3 * missed["mobilefacenet"], missed
