"""Real embeddings of the development sets the recognition targets are stated on, computed once
per session for each shipped pack (the MobileFaceNet embedder built from its npm package)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.eval.context import EvalContext
from gateway.eval.devsets import DevSet, load_dev_set
from gateway.eval.embeddings import EmbeddedImages, embed_images
from gateway.vision.factory import load_pipeline
from tests.modelhub.helpers import install_mobilefacenet

MOBILEFACENET_LICENCE = "declared-mit-unverified"
# The sets a test can afford (LFW's 3,321 images are measured by `menwei eval calibrate`).
TEST_SETS = ("eastasian", "nuaa")


@pytest.fixture(scope="session")
def pack_models_dir(
    models_mirror: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """Model folder per pack: the mirror for the default pack, a built one for mobilefacenet."""
    built: dict[str, Path] = {}

    def folder(pack: str) -> Path:
        if pack == "default":
            return models_mirror
        if pack not in built:
            built[pack] = install_mobilefacenet(models_mirror, tmp_path_factory.mktemp(pack))
        return built[pack]

    return folder


@pytest.fixture(scope="session")
def pack_context(pack_models_dir: Callable[[str], Path]) -> Callable[[str], EvalContext]:
    contexts: dict[str, EvalContext] = {}

    def context(pack: str) -> EvalContext:
        if pack not in contexts:
            config = parse_config(
                {
                    "models": {
                        "dir": str(pack_models_dir(pack)),
                        "pack": pack,
                        "accept_licence": [MOBILEFACENET_LICENCE],
                    }
                },
                environ={},
            )
            pipeline, models = load_pipeline(config)
            contexts[pack] = EvalContext(config, pipeline, models)
        return contexts[pack]

    return context


@pytest.fixture(scope="session")
def dev_sets(faces_dir: Path) -> dict[str, DevSet]:
    return {name: load_dev_set(name, faces_dir) for name in TEST_SETS}


@pytest.fixture(scope="session")
def dev_embeddings(
    pack_context: Callable[[str], EvalContext], dev_sets: dict[str, DevSet], faces_dir: Path
) -> Callable[[str], EmbeddedImages]:
    """Embeddings of every test set's images, per pack, computed once."""
    done: dict[str, EmbeddedImages] = {}

    def embeddings(pack: str) -> EmbeddedImages:
        if pack not in done:
            paths = [image.path for dev in dev_sets.values() for image in dev.images]
            done[pack] = embed_images(pack_context(pack).pipeline, faces_dir, paths)
        return done[pack]

    return embeddings
