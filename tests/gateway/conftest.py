"""Fixtures for the vision tests: the real default pack loaded from the shared model mirror, and
the mobilefacenet pack built from its npm package."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import GatewayConfig, parse_config
from gateway.vision.factory import PipelineModels, build_pipeline, models_from_pack
from gateway.vision.pipeline import FacePipeline


@pytest.fixture(scope="session")
def mirror_config(models_mirror: Path) -> GatewayConfig:
    return parse_config({"models": {"dir": str(models_mirror)}}, environ={})


@pytest.fixture(scope="session")
def pipeline_models(mirror_config: GatewayConfig) -> PipelineModels:
    from gateway.modelhub import resolve_pack

    return models_from_pack(resolve_pack(mirror_config.models))


@pytest.fixture(scope="session")
def pipeline(pipeline_models: PipelineModels, mirror_config: GatewayConfig) -> FacePipeline:
    return build_pipeline(pipeline_models, mirror_config.vision)


@pytest.fixture(scope="session")
def shipped_pipelines(
    pipeline: FacePipeline,
    pipeline_models: PipelineModels,
    models_mirror: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[FacePipeline, PipelineModels]]:
    """Both shipped packs: the default one from the mirror, mobilefacenet built from npm."""
    from gateway.modelhub import resolve_pack
    from tests.modelhub.helpers import install_mobilefacenet

    folder = install_mobilefacenet(models_mirror, tmp_path_factory.mktemp("mobilefacenet"))
    config = parse_config(
        {
            "models": {
                "dir": str(folder),
                "pack": "mobilefacenet",
                "accept_licence": ["declared-mit-unverified"],
            }
        },
        environ={},
    )
    models = models_from_pack(resolve_pack(config.models))
    return {
        "default": (pipeline, pipeline_models),
        "mobilefacenet": (build_pipeline(models, config.vision), models),
    }
