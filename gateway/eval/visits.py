"""Door visits replayed through the runtime's own track decision (`judge_track`, `decide`).

A resident at the door gives many different frames; a stranger too. Two replay modes:

- per image: every probe image is a track of `frames` identical frames (one photo held up to the
  camera), the protocol the earlier figures used;
- per visit: a track of `frames` frames built from up to `frames` *different* images of one person,
  never a gallery template: one visit per probe image, starting at that image and continuing
  through the person's other probes in path order (wrapping round, so a person with fewer probe
  images than frames repeats some; `distinct_images` counts them).

Every frame is searched in the gallery, turned into evidence exactly as the runtime does
(`frame_evidence`, live, with its embedding), appended to a track whose history is as long as the
rule's window, and judged with `judge_track` (which fuses the live frames and searches the same
gallery) after each frame; the first grant is the visit's grant. An image without a
usable face adds no frame (the camera saw no face), so it can never help a grant. Replaying the
door, the search holds only the images whose face passes the door's quality gate
(`door_vectors`): a face failing it adds no frame; per image such a probe is never judged, per
visit the door asks the person to face the camera and keeps looking, so the visit is made of the
person's images that pass (`multi_image_visits`), and only a person with none is never judged.
The figures count such visits apart (`never_judged`) beside the residents missed among the
judged ones.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.eval.datasets import LabelledImage
from gateway.eval.embeddings import EmbeddedImages
from gateway.gallery import Gallery, Match
from gateway.vision.decision import DecisionRule, Verdict
from gateway.vision.embedder import Vector
from gateway.vision.recogniser import frame_evidence, judge_track
from gateway.vision.tracking import Track

PER_IMAGE = "image"
PER_VISIT = "visit"


@dataclass(frozen=True)
class Visit:
    """One replayed track: whose face it is, whether they are enrolled, its frames (image paths)."""

    truth: str
    enrolled: bool
    frames: tuple[str, ...]


def image_visits(probes: Iterable[LabelledImage], enrolled: bool, frames: int) -> list[Visit]:
    """Per image: each probe repeated `frames` times."""
    return [Visit(p.label, enrolled, (p.path,) * frames) for p in probes]


def multi_image_visits(
    probes: Iterable[LabelledImage],
    enrolled: bool,
    frames: int,
    judged: Callable[[str], bool] | None = None,
) -> list[Visit]:
    """Per visit: one visit per probe, made of up to `frames` different images of that person.
    With `judged` (the door's gate), the frames are the images it judges, from that probe on: a
    face failing the gate is passed over, as the door asks the person to face the camera and
    keeps looking; a person with no such image gives a visit the door never judges."""
    by_person: dict[str, list[str]] = defaultdict(list)
    for probe in probes:
        by_person[probe.label].append(probe.path)
    visits = []
    for person in sorted(by_person):
        paths = sorted(by_person[person])
        for start in range(len(paths)):
            rotated = paths[start:] + paths[:start]
            good = [path for path in rotated if judged is None or judged(path)] or rotated
            chosen = tuple(good[step % len(good)] for step in range(frames))
            visits.append(Visit(person, enrolled, chosen))
    return visits


@dataclass(frozen=True)
class VisitOutcome:
    """How one visit ended: the granted identity (None if never granted) and the last verdict."""

    visit: Visit
    granted_to: str | None
    verdict: Verdict
    best_score: float  # highest top-1 score of any frame or fused search (-1: no face)
    best_identity: str | None
    judged: bool = True  # at least one frame had a usable (gate-passing) face

    @property
    def false_grant(self) -> bool:
        return self.granted_to is not None and (
            not self.visit.enrolled or self.granted_to != self.visit.truth
        )

    @property
    def true_grant(self) -> bool:
        return self.visit.enrolled and self.granted_to == self.visit.truth


def door_vectors(embedded: EmbeddedImages, gated: bool) -> dict[str, Vector]:
    """The frames the door judges: every embedded face when not `gated`, else only the faces
    passing its quality gate."""
    if not gated:
        return embedded.vectors
    return {p: v for p, v in embedded.vectors.items() if embedded.door_frame(p)}


class FrameSearch:
    """Gallery answers per image path, computed once (a visit reuses its images' answers)."""

    def __init__(self, gallery: Gallery, vectors: Mapping[str, Vector]) -> None:
        self.gallery = gallery
        self.vectors = vectors
        self._answers: dict[str, Match | None] = {}

    def __call__(self, path: str) -> tuple[bool, Match | None]:
        """(the image has a usable face, its top-1 match)."""
        vector = self.vectors.get(path)
        if vector is None:
            return False, None
        if path not in self._answers:
            self._answers[path] = self.gallery.search(vector)
        return True, self._answers[path]


def replay_visit(visit: Visit, search: FrameSearch, rule: DecisionRule) -> VisitOutcome:
    """Run one visit frame by frame through `judge_track` (frames live, as a real face would be)."""
    track = Track(0, (0.0, 0.0, 0.0, 0.0), 0, 0, history=deque(maxlen=rule.window))
    verdict = Verdict.UNKNOWN
    granted: str | None = None
    best, best_identity = -1.0, None
    judged = False
    for path in visit.frames:
        has_face, match = search(path)
        if not has_face:
            continue
        judged = True
        if match is not None and match.score > best:
            best, best_identity = match.score, match.identity
        track.history.append(frame_evidence(match, True, search.vectors[path]))
        decision, newly_granted = judge_track(track, rule, search.gallery.search)
        verdict = decision.verdict
        if decision.identity is not None and decision.best_score > best:  # the fused score
            best, best_identity = decision.best_score, decision.identity
        if newly_granted:
            granted = decision.identity
    return VisitOutcome(visit, granted, verdict, best, best_identity, judged)


@dataclass(frozen=True)
class ReplayFigures:
    """Grants and misses of one replay mode, with the counts behind every rate."""

    mode: str
    frames: int
    outcomes: tuple[VisitOutcome, ...]

    @property
    def mated(self) -> list[VisitOutcome]:
        return [o for o in self.outcomes if o.visit.enrolled]

    @property
    def non_mated(self) -> list[VisitOutcome]:
        return [o for o in self.outcomes if not o.visit.enrolled]

    @property
    def residents_missed(self) -> int:
        return sum(not o.true_grant for o in self.mated)

    @property
    def false_grants(self) -> list[VisitOutcome]:
        return [o for o in self.outcomes if o.false_grant]

    @property
    def fnir(self) -> float:
        mated = len(self.mated)
        return self.residents_missed / mated if mated else 0.0

    @property
    def residents_never_judged(self) -> int:
        return sum(not o.judged for o in self.mated)

    def to_json(self) -> dict[str, Any]:
        mated, non_mated = self.mated, self.non_mated
        strangers = sum(o.false_grant for o in non_mated)
        distinct = [len(set(o.visit.frames)) for o in self.outcomes]
        judged = len(mated) - self.residents_never_judged
        missed_judged = sum(o.judged and not o.true_grant for o in mated)
        return {
            "mode": self.mode,
            "frames_per_track": self.frames,
            "mated_tracks": len(mated),
            "non_mated_tracks": len(non_mated),
            "mated_never_judged": self.residents_never_judged,
            "non_mated_never_judged": sum(not o.judged for o in non_mated),
            "residents_missed_among_judged": missed_judged,
            "fnir_among_judged": missed_judged / judged if judged else 0.0,
            "mean_distinct_images_per_track": (sum(distinct) / len(distinct)) if distinct else 0.0,
            "residents_granted": len(mated) - self.residents_missed,
            "residents_missed": self.residents_missed,
            "fnir": self.fnir,
            "false_grants": len(self.false_grants),
            "false_grants_to_strangers": strangers,
            "false_grants_to_wrong_resident": len(self.false_grants) - strangers,
            "verdicts": dict(sorted(Counter(o.verdict.value for o in self.outcomes).items())),
            "false_grant_examples": [describe(o) for o in self.false_grants[:10]],
        }


def describe(outcome: VisitOutcome) -> str:
    """One line naming a (false) grant: who, granted as whom, best score, frames."""
    visit = outcome.visit
    return (
        f"{visit.truth} granted as {outcome.granted_to} (best {outcome.best_score:.3f}; "
        f"{len(set(visit.frames))} image(s): {', '.join(sorted(set(visit.frames))[:3])})"
    )


def replay(
    mode: str,
    frames: int,
    mated: Sequence[LabelledImage],
    non_mated: Sequence[LabelledImage],
    search: FrameSearch,
    rule: DecisionRule,
    door: bool = False,
) -> ReplayFigures:
    """Build the visits of `mode` and replay every one of them; with `door`, a visit's frames
    are the images the search can judge (see `multi_image_visits`)."""
    if mode == PER_IMAGE:
        visits = [*image_visits(mated, True, frames), *image_visits(non_mated, False, frames)]
    else:
        judged = search.vectors.__contains__ if door else None
        visits = [
            *multi_image_visits(mated, True, frames, judged),
            *multi_image_visits(non_mated, False, frames, judged),
        ]
    outcomes = tuple(replay_visit(visit, search, rule) for visit in visits)
    return ReplayFigures(mode, frames, outcomes)


def format_figures(figures: ReplayFigures) -> str:
    """One line per mode: misses and false grants with their denominators."""
    data = figures.to_json()
    mated, non_mated = data["mated_tracks"], data["non_mated_tracks"]
    judged = mated - data["mated_never_judged"]
    return (
        f"per {figures.mode} ({data['frames_per_track']} frames/track, "
        f"{data['mean_distinct_images_per_track']:.2f} distinct images/track): residents missed "
        f"{data['residents_missed']}/{mated} ({data['fnir']:.1%}) = never judged "
        f"{data['mated_never_judged']} + missed among judged "
        f"{data['residents_missed_among_judged']}/{judged} ({data['fnir_among_judged']:.1%}); "
        f"false grants {data['false_grants_to_strangers']}/{non_mated} stranger tracks "
        f"({data['non_mated_never_judged']} never judged), "
        f"{data['false_grants_to_wrong_resident']}/{mated} resident tracks to someone else"
    )
