"""The eval replays the door: a face failing the door's quality gate adds no frame (a visit
with none is never judged, counted apart), and templates are the first photos enrolment accepts;
the people, probes and strangers stay those of the ungated protocol, so both are comparable."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gateway.eval.datasets import LabelledImage
from gateway.eval.embedding_cache import load_cache, save_cache
from gateway.eval.embeddings import EmbeddedImages
from gateway.eval.identify import is_enrolled, split_identities
from gateway.eval.visits import PER_IMAGE, PER_VISIT, FrameSearch, door_vectors, replay
from gateway.gallery import Gallery
from gateway.vision.decision import DecisionRule

RULE = DecisionRule(similarity_threshold=0.8, min_margin=0.02, window=5, agree=3)
ENROLLED = next(f"P{i}" for i in range(100) if is_enrolled(f"P{i}"))


def _embedded(gate: dict[str, tuple[str, ...]], faces: dict[str, int]) -> EmbeddedImages:
    vectors = {path: np.asarray([1.0, 0.0], np.float32) for path in gate}
    return EmbeddedImages(vectors, {"lost.jpg": "no face detected"}, gate, faces)


def test_door_frames_pass_the_gate_and_enrolment_photos_also_hold_one_face() -> None:
    embedded = _embedded({"ok": (), "blur": ("blur",), "crowd": ()}, {"ok": 1, "crowd": 3})
    assert [embedded.door_frame(p) for p in ("ok", "blur", "crowd", "lost.jpg")] == [
        True,
        False,
        True,
        False,
    ]
    assert [embedded.enrolment_photo(p) for p in ("ok", "blur", "crowd")] == [True, False, False]
    assert set(door_vectors(embedded, gated=True)) == {"ok", "crowd"}
    assert set(door_vectors(embedded, gated=False)) == {"ok", "blur", "crowd"}


def test_templates_are_the_first_photos_enrolment_accepts_and_the_rest_are_probes() -> None:
    paths = [f"{ENROLLED}/{i}.jpg" for i in range(6)]
    images = [LabelledImage(p, ENROLLED) for p in paths]
    refused = {paths[0], paths[2]}
    split = split_identities(images, 3, accept=lambda path: path not in refused)
    assert [t.path for t in split.templates] == [paths[1], paths[3], paths[4]]
    assert sorted(p.path for p in split.mated) == [paths[0], paths[2], paths[5]]
    assert split.short_of_templates == ()
    # Without the check: the first three by path, as before.
    assert [t.path for t in split_identities(images, 3).templates] == paths[:3]


def test_people_short_of_good_photos_are_named_and_still_probed() -> None:
    images = [LabelledImage(f"{ENROLLED}/{i}.jpg", ENROLLED) for i in range(4)]
    split = split_identities(images, 3, accept=lambda path: path.endswith("3.jpg"))
    assert split.short_of_templates == ((ENROLLED, 1),)
    assert len(split.mated) == 3  # the refused photos are probes: nobody is dropped
    none = split_identities(images, 3, accept=lambda path: False)
    assert none.short_of_templates == ((ENROLLED, 0),) and not none.templates
    assert len(none.mated) == 4


def test_a_visit_whose_frames_all_fail_the_gate_is_never_judged() -> None:
    gallery = Gallery("m", 2)
    gallery.add("Ann", [1.0, 0.0], "m")
    good, blurred = np.asarray([1.0, 0.0], np.float32), np.asarray([0.99, 0.141], np.float32)
    embedded = EmbeddedImages(
        {"a1": good, "a2": blurred, "a3": good, "s1": blurred},
        {},
        {"a1": (), "a2": ("blur",), "a3": (), "s1": ("blur",)},
        {"a1": 1, "a2": 1, "a3": 1, "s1": 1},
    )
    mated = [LabelledImage(p, "Ann") for p in ("a1", "a2", "a3")]
    strangers = [LabelledImage("s1", "Sam")]
    gated = FrameSearch(gallery, door_vectors(embedded, gated=True))
    per_image = replay(PER_IMAGE, 3, mated, strangers, gated, RULE).to_json()
    # Sam scores 0.99 against Ann, but only on a blurred face the door never judges.
    assert per_image["false_grants"] == 0 and per_image["non_mated_never_judged"] == 1
    assert per_image["mated_never_judged"] == 1  # Ann's blurred photo
    assert per_image["residents_missed"] == 1 and per_image["residents_missed_among_judged"] == 0
    assert per_image["mated_tracks"] == 3
    # Per visit the door keeps looking: 3 frames from the photos that pass, every visit granted.
    per_visit = replay(PER_VISIT, 3, mated, strangers, gated, RULE, door=True)
    assert all(set(o.visit.frames) <= {"a1", "a3"} for o in per_visit.mated)
    data = per_visit.to_json()
    assert data["residents_missed"] == 0 and data["mated_never_judged"] == 0
    assert data["non_mated_never_judged"] == 1 and data["false_grants"] == 0  # Sam has none
    # Visits cut short instead (the blurred frame only dropped): 2 frames are fewer than K = 3.
    short = replay(PER_VISIT, 3, mated, strangers, gated, RULE).to_json()
    assert short["residents_missed"] == 3 and short["residents_missed_among_judged"] == 3
    # Ungated, the blurred stranger is judged and granted: what the gate holds back.
    ungated = FrameSearch(gallery, door_vectors(embedded, gated=False))
    assert replay(PER_IMAGE, 3, mated, strangers, ungated, RULE).to_json()["false_grants"] == 1


def test_the_cache_keeps_each_image_gate_verdict_and_face_count(tmp_path: Path) -> None:
    embedded = _embedded({"ok": (), "side": ("yaw", "too_close")}, {"ok": 1, "side": 2})
    cache = tmp_path / "cache.npz"
    save_cache(cache, "key", embedded)
    loaded = load_cache(cache, "key")
    assert loaded.gate == {"ok": (), "side": ("yaw", "too_close")}
    assert loaded.faces == {"ok": 1, "side": 2}
    assert loaded.failures == {"lost.jpg": "no face detected"}
    assert [loaded.enrolment_photo(p) for p in ("ok", "side")] == [True, False]
