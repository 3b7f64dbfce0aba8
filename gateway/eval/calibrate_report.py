"""The human-readable report of `menwei eval calibrate` (gateway.eval.calibrate): per set the
impostors, the top pairs to look at by eye, how much rests on the door's quality gate, the replays
at the recommended thresholds; then the recommendation and where it comes from."""

from __future__ import annotations

from gateway.eval.calibrate import EXCESS_QUANTILE, CalibrationReport, visit_zero
from gateway.eval.visits import format_figures


def format_calibrate(report: CalibrationReport) -> str:
    """Human-readable report: per set the impostors, the top pairs, the replays; then the advice."""
    rec = report.recommendation
    lines = [
        f"model {report.model_id} (pack {report.pack}), visits of {report.visit_frames} frames, "
        + (
            "replaying the door (frames pass its quality gate; templates pass enrolment)"
            if report.gated
            else "UNGATED (every face scored, templates the first photos whatever their quality)"
        )
    ]
    for item in report.sets:
        stats = item.stats
        dev = item.dev
        lines.append(
            f"\n[{dev.name}] {len(dev.images)} images, {stats.identities} people "
            f"({item.no_face} images without a usable face)"
            + "".join(f"; alias merged: {a.describe()}" for a in dev.aliases_applied)
        )
        lines.append(
            f"  door's quality gate: {item.gate_failed} faces fail it; highest impostor over every "
            f"face, gate or not: {item.ungated_highest_image:.4f}; "
            + ", ".join(
                f"{k} template(s): {short} enrolled people get fewer as enrolment refuses photos "
                f"({none} get none)"
                for k, short, none in item.short_of_templates
            )
        )
        lines.append(
            f"  per image: highest impostor {stats.highest_image:.4f} over "
            f"{stats.image_comparisons:,} impostor comparisons"
        )
        lines.extend(f"    {p.score:.4f}  {p.first}  vs  {p.second}" for p in stats.top_images)
        lines.append(
            f"  per visit: highest impostor {stats.highest_visit:.4f} over "
            f"{stats.visit_comparisons:,} (stranger, resident) pairs; mixed strangers' visits "
            f"{stats.highest_mixed_visit:.4f} against {stats.mixed_visit_comparisons:,} "
            f"templates; fusing only frames that agree at {rec.agreement:.3f}: at most "
            f"{visit_zero(stats, rec.agreement, report.fused_frames):.4f}"
        )
        lines.extend(
            f"    {p.score:.4f}  stranger {p.first} -> resident {p.second}"
            for p in stats.top_visits[:5]
        )
        if stats.excess.size:
            lines.append(
                f"  split-half excess over {stats.excess.size} rounds: median "
                f"{stats.excess_quantile(0.5):+.4f}, "
                f"q95 {stats.excess_quantile(EXCESS_QUANTILE):+.4f}, "
                f"max {float(stats.excess.max()):+.4f}"
            )
        lines.append(
            f"  genuine image pairs at or above {rec.similarity_threshold:.3f}: "
            f"{stats.genuine_above(rec.similarity_threshold):.1%} of {stats.genuine_comparisons:,}"
        )
        for templates, figures in item.replays:
            lines.append(f"  {templates} template(s), {format_figures(figures)}")
    lines += [
        "",
        f"zero point: {rec.zero_point:.4f} ({rec.zero_set}, per {rec.zero_kind}); margin "
        f"{rec.margin:.3f} "
        f"({rec.margin_source})",
        f"recommended: similarity_threshold = {rec.similarity_threshold:.3f}, "
        f"small_gallery_threshold = {rec.small_gallery_threshold:.3f}, "
        f"watchlist_threshold = {rec.watchlist_threshold:.3f}, "
        f"fusion_agreement = {rec.agreement:.3f}",
        f"false grants at the recommended thresholds, all sets and replays: {report.false_grants}",
    ]
    return "\n".join(lines)
