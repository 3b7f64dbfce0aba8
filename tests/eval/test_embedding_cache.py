"""The embedding cache returns exactly what a fresh run computes, and only under the same key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.config import parse_config
from gateway.eval.embedding_cache import cache_key, embed_with_cache, load_cache
from gateway.eval.embeddings import embed_images
from gateway.vision.factory import load_pipeline
from gateway.vision.pipeline import FacePipeline

pytestmark = pytest.mark.shared

IMAGES = [
    "lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg",
    "lfw/images/Abel_Pacheco/Abel_Pacheco_0004.jpg",
    "lfw/images/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg",
]


@pytest.fixture(scope="module")
def pipeline(models_mirror: Path) -> FacePipeline:
    built, _ = load_pipeline(parse_config({"models": {"dir": str(models_mirror)}}))
    return built


def test_cached_vectors_equal_fresh_ones_and_skip_the_work(
    pipeline: FacePipeline, faces_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.npz"
    paths = [*IMAGES, "lfw/images/nobody/missing.jpg"]
    first = embed_with_cache(pipeline, faces_dir, paths[:2], cache)
    second = embed_with_cache(pipeline, faces_dir, paths, cache)  # two more, two cached
    detections = len(pipeline.timer.samples["detect"])
    third = embed_with_cache(pipeline, faces_dir, paths, cache)
    assert len(pipeline.timer.samples["detect"]) == detections  # nothing recomputed
    fresh = embed_images(pipeline, faces_dir, paths)
    assert set(third.vectors) == set(fresh.vectors) == set(IMAGES)
    assert set(third.failures) == {"lfw/images/nobody/missing.jpg"}
    for path in IMAGES:
        np.testing.assert_allclose(third.vectors[path], fresh.vectors[path], atol=1e-6)
    np.testing.assert_array_equal(first.vectors[IMAGES[0]], second.vectors[IMAGES[0]])
    assert third.gate == fresh.gate and third.faces == fresh.faces  # the door's verdicts too
    assert set(third.gate) == set(IMAGES)


def test_a_cache_made_with_other_settings_is_ignored(
    pipeline: FacePipeline, faces_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.npz"
    embed_with_cache(pipeline, faces_dir, IMAGES[:1], cache)
    assert load_cache(cache, cache_key(pipeline)).vectors
    assert not load_cache(cache, cache_key(pipeline) + "other").vectors
