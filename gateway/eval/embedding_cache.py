"""An optional on-disk cache of evaluation embeddings (`--embeddings-cache FILE.npz`), so that
verify and identify on the same photos embed each image once.

The cache is keyed by everything that changes a vector: the embedder's model id and input
preprocessing (colour order, mean, std), flip averaging, alignment, the detector settings and the
quality gate's settings (each vector keeps the gate's verdict and the image's face count). A
cache made under another key is ignored and rewritten; paths the cache lacks are embedded and
added. The file holds derived vectors and verdicts only, never images.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from gateway.eval.embeddings import EmbeddedImages, embed_images
from gateway.vision.pipeline import FacePipeline

log = logging.getLogger(__name__)


def cache_key(pipeline: FacePipeline) -> str:
    """What must match for a cached vector to equal a freshly computed one."""
    detector = pipeline.detector
    return json.dumps(
        {
            "model_id": pipeline.model_id,
            "preprocess": [
                pipeline.embedder.spec.color_order,
                list(pipeline.embedder.spec.mean),
                list(pipeline.embedder.spec.std),
            ],
            "flip_average": pipeline.embedder.flip_average,
            "alignment": [pipeline.alignment.method, pipeline.alignment.output_size],
            "detector": [
                detector.score_threshold,
                detector.nms_threshold,
                detector.input_max_side,
                detector.close_up_max_side,
            ],
            "quality_gate": pipeline.config.quality.model_dump(mode="json"),
        },
        sort_keys=True,
    )


def load_cache(path: Path, key: str) -> EmbeddedImages:
    """The cached embeddings under `key` (empty when the file is absent or was made otherwise)."""
    if not path.is_file():
        return EmbeddedImages()
    with np.load(path, allow_pickle=False) as data:
        if str(data["key"]) != key or "gate" not in data:
            log.info("embedding cache %s was made with other settings; recomputing", path)
            return EmbeddedImages()
        paths = [str(p) for p in data["paths"]]
        vectors = {p: v.astype(np.float32) for p, v in zip(paths, data["vectors"], strict=True)}
        gate = {
            p: tuple(r for r in str(g).split(",") if r)
            for p, g in zip(paths, data["gate"], strict=True)
        }
        faces = {p: int(n) for p, n in zip(paths, data["faces"], strict=True)}
        failures = dict(zip(map(str, data["failed_paths"]), map(str, data["reasons"]), strict=True))
    return EmbeddedImages(vectors, failures, gate, faces)


def save_cache(path: Path, key: str, embedded: EmbeddedImages) -> None:
    paths = sorted(embedded.vectors)
    dimension = len(next(iter(embedded.vectors.values()))) if paths else 0
    vectors = (
        np.stack([embedded.vectors[p] for p in paths])
        if paths
        else np.zeros((0, dimension), np.float32)
    )
    failed = sorted(embedded.failures)
    with path.open("wb") as handle:
        np.savez(
            handle,
            key=np.asarray(key),
            paths=np.asarray(paths, dtype=str),
            vectors=vectors,
            gate=np.asarray([",".join(embedded.gate.get(p, ())) for p in paths], dtype=str),
            faces=np.asarray([embedded.faces.get(p, 1) for p in paths], dtype=np.int32),
            failed_paths=np.asarray(failed, dtype=str),
            reasons=np.asarray([embedded.failures[p] for p in failed], dtype=str),
        )


def embed_with_cache(
    pipeline: FacePipeline, root: Path, paths: list[str], cache: Path | None
) -> EmbeddedImages:
    """`embed_images`, reusing and extending the cache file when one is given."""
    if cache is None:
        return embed_images(pipeline, root, paths)
    key = cache_key(pipeline)
    cached = load_cache(cache, key)
    wanted = set(paths)
    missing = wanted - cached.vectors.keys() - cached.failures.keys()
    if missing:
        cached.update(embed_images(pipeline, root, missing))
        save_cache(cache, key, cached)
    log.info("embeddings: %d from cache, %d computed", len(wanted) - len(missing), len(missing))
    return cached.subset(wanted)
