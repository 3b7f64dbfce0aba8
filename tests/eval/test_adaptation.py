"""Gallery-fitted whitening (measured, not deployed): the map is what it claims to be, and it is
measured on the same split as the plain cosine."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.eval.adaptation import fit_whitening, measure_adaptation
from gateway.eval.datasets import LabelledImage
from gateway.eval.identify import split_identities


def test_full_shrinkage_is_plain_centring_and_half_shrinkage_evens_the_spectrum() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(200, 8)) * np.asarray([10, 1, 1, 1, 1, 1, 1, 1.0])
    isotropic = fit_whitening(data, shrink=1.0)
    scale = isotropic.matrix[0, 0]
    np.testing.assert_allclose(isotropic.matrix, scale * np.eye(8), atol=1e-12)
    half = fit_whitening(data, shrink=0.5)
    mapped = (data - half.mean) @ half.matrix.T
    spread = mapped.std(axis=0)
    # sd ratio 10 before; after: sqrt(100 / 56.7) / sqrt(1 / 7.2) = 3.6
    assert spread.max() / spread.min() < (data.std(axis=0).max() / data.std(axis=0).min()) / 2
    vector = half.apply(data[0])
    assert vector.dtype == np.float32 and abs(float(np.linalg.norm(vector)) - 1) < 1e-6
    with pytest.raises(ValueError):
        fit_whitening(data[:1])


def test_whitening_removes_a_shared_nuisance_direction() -> None:
    # 30 people; every photo carries a strong random nuisance along axis 0 (lighting, say):
    # whitening fitted on the gallery shrinks it and identification gets better.
    rng = np.random.default_rng(7)
    people = rng.normal(size=(30, 16))
    people[:, 0] = 0.0
    images, vectors = [], {}
    for person in range(30):
        for shot in range(4):
            vector = people[person] + rng.normal(scale=0.3, size=16)
            vector[0] += rng.normal(scale=6.0)
            path = f"p{person}/{shot}.jpg"
            vectors[path] = (vector / np.linalg.norm(vector)).astype(np.float32)
            images.append(LabelledImage(path, f"p{person}"))
    split = split_identities(images, 1)
    report = measure_adaptation(split, vectors, "m", 1)
    assert report.gallery_templates == len(split.templates)
    plain, white = report.plain.points[1e-2], report.whitened.points[1e-2]
    assert plain.mated == white.mated and plain.non_mated == white.non_mated
    assert white.fnir < plain.fnir
