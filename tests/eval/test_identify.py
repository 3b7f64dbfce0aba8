"""Open-set identification: the split and the decision replay (pure), then the CLI on a subset
of the LFW identities with the real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.eval.datasets import LabelledImage
from gateway.eval.identify import is_enrolled, split_identities
from gateway.eval.visits import PER_IMAGE, FrameSearch, replay
from gateway.gallery import Gallery
from gateway.vision.decision import DecisionRule
from tests.eval.cli_runner import run_json, write_identities_subset

SUBSET_PEOPLE = 60


def people(counts: dict[str, int]) -> list[LabelledImage]:
    return [
        LabelledImage(f"{name}/{name}_{i:04d}.jpg", name)
        for name, count in counts.items()
        for i in range(count, 0, -1)
    ]


def test_split_is_deterministic_and_complete() -> None:
    names = [f"Person_{i}" for i in range(40)]
    images = people({name: 1 + i % 4 for i, name in enumerate(names)})
    split = split_identities(images)
    assert split == split_identities(list(reversed(images)))
    assert len(split.templates) + len(split.mated) + len(split.non_mated) == len(images)
    enrolled = {t.label for t in split.templates}
    assert enrolled == {n for i, n in enumerate(names) if 1 + i % 4 >= 2 and is_enrolled(n)}
    assert 0 < len(enrolled) < len(names)
    assert {p.label for p in split.mated} == enrolled
    assert not enrolled & {p.label for p in split.non_mated}
    for template in split.templates:  # the first image by path is the template
        assert template.path.endswith("_0001.jpg")


def test_replay_counts_grants_to_strangers_and_wrong_people_as_false() -> None:
    rule = DecisionRule(similarity_threshold=0.5, min_margin=0.02, window=5, agree=3)
    gallery = Gallery("m", 2)
    gallery.add("Ann", [1.0, 0.0], "m")
    gallery.add("Bob", [0.0, 1.0], "m")
    vectors = {
        "ann.jpg": _unit(0.9),  # Ann's probe near Ann: a true grant
        "ann2.jpg": _unit(0.1),  # Ann's probe near Bob: a false grant to the wrong resident
        "eve.jpg": _unit(0.2),  # a stranger near Bob: a false grant
        "eve2.jpg": _unit(0.5),  # a stranger exactly between both (no margin): unknown
    }
    mated = [LabelledImage("ann.jpg", "Ann"), LabelledImage("ann2.jpg", "Ann")]
    mated.append(LabelledImage("cid.jpg", "Cid"))  # no face: no frame, a miss
    non_mated = [LabelledImage("eve.jpg", "Eve"), LabelledImage("eve2.jpg", "Eve")]
    figures = replay(PER_IMAGE, 3, mated, non_mated, FrameSearch(gallery, vectors), rule)
    data = figures.to_json()
    assert data["verdicts"] == {"grant": 3, "unknown": 2}
    assert [o.visit.frames[0] for o in figures.false_grants] == ["ann2.jpg", "eve.jpg"]
    assert data["false_grants_to_strangers"] == 1 and data["false_grants_to_wrong_resident"] == 1
    assert data["residents_missed"] == 2 and data["mated_tracks"] == 3


def _unit(weight_on_first: float) -> np.ndarray:
    """A unit 2-d vector whose cosine with [1, 0] rises with `weight_on_first` (0..1)."""
    angle = (1.0 - weight_on_first) * np.pi / 2
    return np.asarray([np.cos(angle), np.sin(angle)], np.float32)


@pytest.mark.shared
@pytest.mark.slow
def test_identify_cli_on_a_subset(models_mirror: Path, faces_dir: Path, tmp_path: Path) -> None:
    subset = write_identities_subset(faces_dir, tmp_path / "identities.csv", SUBSET_PEOPLE)
    common = [
        "eval",
        "identify",
        "--identities",
        str(subset),
        "--root",
        str(faces_dir),
        "--embeddings-cache",
        str(tmp_path / "cache.npz"),
    ]
    report = run_json(common, models_mirror)
    assert report["enrolled_identities"] > 5
    assert report["mated_probes"] > 10 and report["non_mated_probes"] > 20
    assert report["rank1_accuracy"] >= 0.9
    assert 0.0 <= report["fnir_at_fpir_1e-2"] <= report["fnir_at_fpir_1e-3"] <= 1.0
    rule = report["decision_rule"]
    assert rule["threshold_source"] == "config" or rule["threshold_source"].startswith("fpir_1e-2")
    # A false grant needs a false-positive search: a stranger above threshold or a wrong rank 1.
    wrong_rank1 = round((1 - report["rank1_accuracy"]) * report["mated_probes"])
    strangers_above = round(rule["fpir_at_threshold"] * report["non_mated_probes"])
    assert report["false_grants"] <= wrong_rank1 + strangers_above
    if rule["threshold_source"] == "config":
        assert report["false_grants"] == 0  # the shipped rule grants no stranger here
    assert sum(report["verdicts"].values()) == (report["mated_probes"] + report["non_mated_probes"])
    assert isinstance(report["procurement_bar"]["met"], bool)

    strict = run_json([*common, "--threshold", "0.99"], models_mirror)  # embeddings from cache
    assert strict["decision_rule"]["threshold_source"] == "--threshold"
    assert strict["false_grants"] == 0
    assert strict["verdicts"] == {"unknown": strict["mated_probes"] + strict["non_mated_probes"]}


def test_several_templates_keep_a_probe_and_the_non_mated_set() -> None:
    names = [f"Person_{i}" for i in range(40)]
    images = people({name: 1 + i % 5 for i, name in enumerate(names)})
    one, three = split_identities(images), split_identities(images, templates_per_person=3)
    assert three.non_mated == one.non_mated
    assert {t.label for t in three.templates} == {t.label for t in one.templates}
    assert {p.label for p in three.mated} == {t.label for t in three.templates}  # >= 1 probe each
    assert len(three.templates) > len(one.templates)
    with pytest.raises(ValueError):
        split_identities(images, templates_per_person=0)
